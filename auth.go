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
)

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
	case OpManageAccounts, OpErasePersonal:
		if actor.Kind == ActorSystem || actor.Kind == ActorOfficial && (actor.Role == RoleOperator || actor.Role == RoleAdmin) {
			return nil
		}
		if actor.Kind == "" {
			return Errorf(EUNAUTH, "log in first")
		}
	}
	return Errorf(EFORBIDDEN, "not allowed")
}
