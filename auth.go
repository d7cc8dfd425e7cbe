package healthcode

// Op is an operation the authorisation table knows.
type Op string

// Operations. Each API route maps to one of these; Authorize decides them
// all, in one place.
const (
	OpReadResident     Op = "resident.read"     // read a resident's personal data and code
	OpReadJurisdiction Op = "jurisdiction.read" // read the jurisdiction tree (public)
	OpManageAccounts   Op = "accounts.manage"   // create officials, sources, accounts
	OpErasePersonal    Op = "personal.erase"    // erase personal data (retention, end of the programme)
	OpIssueToken       Op = "token.issue"       // fetch a signed token of one's own code (the resident only)
	OpManageKeys       Op = "keys.manage"       // rotate and revoke signing keys, import trust lists
	OpRecordFact       Op = "fact.record"       // submit (source) or hand-enter (official) a fact; kinds are checked by package rules
	OpApproveFact      Op = "fact.approve"      // approve or refuse a pending hand-entered fact
	OpRetractFact      Op = "fact.retract"      // withdraw a fact
	OpDraftRuleset     Op = "ruleset.draft"     // draft a ruleset for a jurisdiction
	OpApproveRuleset   Op = "ruleset.approve"   // approve (publish) or refuse another officer's draft
	OpFileAppeal       Op = "appeal.file"       // file an appeal (the resident, or a community worker of their community)
	OpReadAppeal       Op = "appeal.read"       // read an appeal (the resident, the worker's community, the deciding command)
	OpDecideAppeal     Op = "appeal.decide"     // grant or deny an appeal (a command officer covering the resident)
	OpReadAccessLog    Op = "access.read"       // read who accessed a resident's data (the resident only)
	OpReadAlerts       Op = "alerts.read"       // read anomaly alerts (auditors)
)

// MayAttempt is the check before any expensive work (a ruleset check, a
// dry run, a batch's validation): whether actor may do op at all, within
// their own post. It costs nothing, refuses residents and officials of
// other roles at once, and Authorize on the real target follows once the
// work has found it.
func MayAttempt(actor Actor, op Op) error {
	return Authorize(actor, op, actor.Jurisdiction, actor.ID)
}

// Authorize reports whether actor may perform op on a target in jurisdiction
// target (the target resident's home, say); subject is the target resident's
// id, if any. It returns nil or an *Error of code EFORBIDDEN (EUNAUTH for
// the public where a login is required).
func Authorize(actor Actor, op Op, target, subject string) error {
	switch op {
	case OpReadJurisdiction:
		return nil
	case OpReadResident:
		switch actor.Kind {
		case ActorSystem:
			return nil // the platform itself and the operator's CLI at the database
		case ActorResident:
			if actor.ID == subject {
				return nil
			}
		case ActorOfficial:
			switch actor.Role {
			case RoleWorker, RoleTracer, RoleCommand:
				if Covers(actor.Jurisdiction, target) {
					return nil
				}
			}
		case "":
			return Errorf(EUNAUTH, "log in to read a resident's data")
		}
	case OpIssueToken:
		switch {
		case actor.Kind == ActorResident && actor.ID == subject:
			return nil
		case actor.Kind == "":
			return Errorf(EUNAUTH, "log in to fetch your code's token")
		}
	case OpRecordFact:
		switch actor.Kind {
		case ActorSource:
			return nil // the source's registered kinds are checked by the store
		case ActorOfficial:
			if (actor.Role == RoleTracer || actor.Role == RoleCommand) && Covers(actor.Jurisdiction, target) {
				return nil
			}
		case "":
			return Errorf(EUNAUTH, "log in or present a source API key")
		}
	case OpApproveFact, OpDraftRuleset, OpApproveRuleset, OpRetractFact:
		// (A fact's recorder may also retract it; the store checks that.)
		if actor.Kind == ActorOfficial && actor.Role == RoleCommand && Covers(actor.Jurisdiction, target) {
			return nil
		}
		if actor.Kind == "" {
			return Errorf(EUNAUTH, "log in first")
		}
	case OpFileAppeal, OpReadAppeal:
		switch {
		case actor.Kind == ActorResident && actor.ID == subject:
			return nil
		case actor.Kind == ActorOfficial && actor.Role == RoleWorker && Covers(actor.Jurisdiction, target):
			return nil
		case op == OpReadAppeal && actor.Kind == ActorOfficial && actor.Role == RoleCommand && Covers(actor.Jurisdiction, target):
			return nil
		case actor.Kind == "":
			return Errorf(EUNAUTH, "log in first")
		}
	case OpDecideAppeal:
		if actor.Kind == ActorOfficial && actor.Role == RoleCommand && Covers(actor.Jurisdiction, target) {
			return nil
		}
		if actor.Kind == "" {
			return Errorf(EUNAUTH, "log in first")
		}
	case OpReadAccessLog:
		switch {
		case actor.Kind == ActorResident && actor.ID == subject:
			return nil
		case actor.Kind == "":
			return Errorf(EUNAUTH, "log in to see who read your data")
		}
	case OpReadAlerts:
		switch {
		case actor.Kind == ActorSystem || actor.Kind == ActorOfficial && actor.Role == RoleAuditor:
			return nil
		case actor.Kind == "":
			return Errorf(EUNAUTH, "log in first")
		}
	case OpManageAccounts, OpErasePersonal, OpManageKeys:
		if actor.Kind == ActorSystem || actor.Kind == ActorOfficial && (actor.Role == RoleOperator || actor.Role == RoleAdmin) {
			return nil
		}
		if actor.Kind == "" {
			return Errorf(EUNAUTH, "log in first")
		}
	}
	return Errorf(EFORBIDDEN, "not allowed")
}
