package rules

import (
	"maps"
	"slices"
	"time"

	"github.com/healthcode/healthcode"
)

// The fact kinds of the closed schema. Adding a kind is a code change.
const (
	KindTestResult  = "test_result"
	KindVaccination = "vaccination"
	KindCaseStatus  = "case_status"
	KindContact     = "contact"
	KindAreaVisit   = "area_visit"
	KindRiskArea    = "risk_area"
	KindQuarantine  = "quarantine"
)

// FieldType is the type of a payload field.
type FieldType string

// Payload field types. Times are RFC 3339 strings in JSON and CEL
// timestamps in rules; area codes are jurisdiction codes (see
// healthcode.LevelOf).
const (
	TypeString  FieldType = "string"
	TypeEnum    FieldType = "enum"
	TypeTime    FieldType = "time"
	TypeInt     FieldType = "int"
	TypeArea    FieldType = "area"
	TypeCaseIDs FieldType = "case_ids" // a non-empty list of case ids
	TypeCaseID  FieldType = "case_id"
)

// A Field is one payload field of a kind. Every field is required.
type Field struct {
	Name  string
	Type  FieldType
	Enum  []string // the allowed values of an enum field
	About string   // one line for the documentation
	// Future is true for times that may lie in the future (the end of a
	// designation or an order); other times may be at most MaxSkew ahead of
	// the clock.
	Future bool
}

// A Kind is one kind of fact of the closed schema.
type Kind struct {
	Name        string
	Description map[string]string // "zh-CN" and "en"
	// Area is true for facts about an area (the fact's Subject is a
	// jurisdiction code), false for facts about a person (Subject is the
	// resident's id).
	Area   bool
	Fields []Field
	// List is the name under which a rule sees the resident's facts of
	// this kind (facts.LIST), or "" for risk_area, which rules see through
	// areas.
	List string
	// Window describes how long a fact counts; WindowOf computes it.
	Window string
	// HandEntry lists the roles that may enter facts of this kind by hand;
	// such facts need a second official's approval when they raise a code.
	HandEntry []healthcode.Role
	// Sources is true if registered data sources may submit the kind.
	Sources bool
	// Max bounds the facts of the kind within their windows for one
	// resident (for risk_area: the designations covering one area). The
	// bounds make a rule's worst-case cost finite; Prepare refuses inputs
	// beyond them.
	Max int
}

// MaxSkew is how far ahead of the platform's clock an observed time may
// lie, to absorb clock differences between sources and the platform.
const MaxSkew = 5 * time.Minute

// Lookback is the longest any fact of a person counts after its event:
// 14 days, twice the 7-day windows of the 2022 rules, so a ruleset can
// look back further but never indefinitely.
const Lookback = 14 * 24 * time.Hour

var kinds = []Kind{
	{
		Name: KindTestResult,
		Description: map[string]string{
			"zh-CN": "核酸或抗原检测结果,由检测机构报送。",
			"en":    "A PCR or antigen test result, reported by the testing laboratory.",
		},
		Fields: []Field{
			{Name: "method", Type: TypeEnum, Enum: []string{"pcr", "antigen"}, About: "pcr (核酸) or antigen (抗原)"},
			{Name: "result", Type: TypeEnum, Enum: []string{"positive", "negative"}, About: "positive (阳性) or negative (阴性)"},
			{Name: "sampled_at", Type: TypeTime, About: "when the sample was taken"},
			{Name: "lab", Type: TypeString, About: "the laboratory's name or licence number"},
		},
		List:    "test_results",
		Window:  "14 days from sampled_at",
		Sources: true,
		Max:     100,
	},
	{
		Name: KindVaccination,
		Description: map[string]string{
			"zh-CN": "一剂新冠疫苗接种记录,由免疫规划信息系统报送。",
			"en":    "One dose of COVID-19 vaccine, reported by the immunisation registry.",
		},
		Fields: []Field{
			{Name: "dose", Type: TypeInt, About: "the dose number, 1 to 10"},
			{Name: "product", Type: TypeString, About: "the vaccine product"},
			{Name: "administered_at", Type: TypeTime, About: "when the dose was given"},
		},
		List:    "vaccinations",
		Window:  "from administered_at, without end",
		Sources: true,
		Max:     20,
	},
	{
		Name: KindCaseStatus,
		Description: map[string]string{
			"zh-CN": "病例状态:确诊、无症状感染者、疑似、治愈或排除。同一病例的后一状态取代前一状态。",
			"en":    "A case's status: confirmed, asymptomatic, suspected, recovered or excluded. A later status of the same case supersedes an earlier one.",
		},
		Fields: []Field{
			{Name: "status", Type: TypeEnum, Enum: []string{"confirmed", "asymptomatic", "suspected", "recovered", "excluded"}, About: "the case's status as of observed_at"},
			{Name: "case_id", Type: TypeCaseID, About: "the case's id in the disease-control reporting system"},
		},
		List:      "case_statuses",
		Window:    "from observed_at, without end (a later status of the same case supersedes it)",
		HandEntry: []healthcode.Role{healthcode.RoleCommand},
		Sources:   true,
		Max:       20,
	},
	{
		Name: KindContact,
		Description: map[string]string{
			"zh-CN": "流调认定的接触:密接、次密接或时空伴随,须引用一个已确诊或无症状感染的病例。",
			"en":    "A contact established by flow tracing: close, secondary or spatio-temporal, citing a confirmed or asymptomatic case.",
		},
		Fields: []Field{
			{Name: "level", Type: TypeEnum, Enum: []string{"close", "secondary", "spatiotemporal"}, About: "close (密接), secondary (次密接) or spatiotemporal (时空伴随)"},
			{Name: "case_id", Type: TypeCaseID, About: "the confirmed or asymptomatic case the contact traces back to"},
			{Name: "exposed_at", Type: TypeTime, About: "the last exposure"},
		},
		List:      "contacts",
		Window:    "14 days from exposed_at",
		HandEntry: []healthcode.Role{healthcode.RoleTracer},
		Sources:   true,
		Max:       100,
	},
	{
		Name: KindAreaVisit,
		Description: map[string]string{
			"zh-CN": "在某一地区的停留(行程),由通信行程或场所码报送。",
			"en":    "A stay in an area (itinerary), reported by the telecom itinerary feed or venue codes.",
		},
		Fields: []Field{
			{Name: "area", Type: TypeArea, About: "the jurisdiction code of the area"},
			{Name: "arrived_at", Type: TypeTime, About: "arrival"},
			{Name: "departed_at", Type: TypeTime, About: "departure, not before arrival"},
		},
		List:    "area_visits",
		Window:  "from arrived_at to 14 days after departed_at",
		Sources: true,
		Max:     500,
	},
	{
		Name: KindRiskArea,
		Description: map[string]string{
			"zh-CN": "指挥部对某一地区的风险等级划定(高、中、低风险区),须引用所依据的病例。事实的主体是地区代码。",
			"en":    "The command's designation of an area as a high-, medium- or low-risk area, citing the cases behind it. The fact's subject is the area code.",
		},
		Area: true,
		Fields: []Field{
			{Name: "level", Type: TypeEnum, Enum: []string{"high", "medium", "low"}, About: "high (高风险区), medium (中风险区) or low (低风险区)"},
			{Name: "from", Type: TypeTime, About: "start of the designation"},
			{Name: "until", Type: TypeTime, Future: true, About: "end of the designation, after from"},
			{Name: "case_ids", Type: TypeCaseIDs, About: "the cases behind the designation, at least one"},
		},
		Window:    "from `from` to 14 days after `until`",
		HandEntry: []healthcode.Role{healthcode.RoleCommand},
		Max:       20,
	},
	{
		Name: KindQuarantine,
		Description: map[string]string{
			"zh-CN": "隔离或健康监测措施:集中隔离、居家隔离或居家健康监测。",
			"en":    "A quarantine or monitoring order: centralised quarantine, home quarantine or home health monitoring.",
		},
		Fields: []Field{
			{Name: "type", Type: TypeEnum, Enum: []string{"centralized", "home", "health_monitoring"}, About: "centralized (集中隔离), home (居家隔离) or health_monitoring (居家健康监测)"},
			{Name: "from", Type: TypeTime, About: "start of the order"},
			{Name: "until", Type: TypeTime, Future: true, About: "end of the order, after from"},
		},
		List:    "quarantines",
		Window:  "from `from` to `until`",
		Sources: true,
		Max:     20,
	},
}

// Kinds returns the closed schema's kinds in a fixed order. The result is a
// copy; changing it changes nothing.
func Kinds() []Kind {
	out := make([]Kind, len(kinds))
	for i := range kinds {
		out[i] = kinds[i].clone()
	}
	return out
}

// LookupKind returns the kind with the given name (a copy).
func LookupKind(name string) (Kind, bool) {
	if i := kindIndex(name); i >= 0 {
		return kinds[i].clone(), true
	}
	return Kind{}, false
}

func (k Kind) clone() Kind {
	k.Description = maps.Clone(k.Description)
	k.HandEntry = slices.Clone(k.HandEntry)
	k.Fields = slices.Clone(k.Fields)
	for i := range k.Fields {
		k.Fields[i].Enum = slices.Clone(k.Fields[i].Enum)
	}
	return k
}

// IsAreaKind reports whether facts of the kind are about an area rather
// than a person (cheaper than LookupKind, which copies).
func IsAreaKind(name string) bool {
	i := kindIndex(name)
	return i >= 0 && kinds[i].Area
}

// MayHandEnter reports whether an official with the role may enter facts of
// the kind by hand.
func MayHandEnter(kind string, role healthcode.Role) bool {
	i := kindIndex(kind)
	return i >= 0 && slices.Contains(kinds[i].HandEntry, role)
}

func kindIndex(name string) int {
	for i := range kinds {
		if kinds[i].Name == name {
			return i
		}
	}
	return -1
}
