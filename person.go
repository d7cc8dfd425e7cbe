package healthcode

// Person is a resident as officials' lists show them: by name, with the
// ID number masked, their community and their code's colour.
type Person struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	IDMasked         string `json:"id_masked"`
	Jurisdiction     string `json:"jurisdiction"`
	JurisdictionName string `json:"jurisdiction_name"`
	Colour           Colour `json:"colour,omitempty"` // "" when the code is withheld (it differs from the log)
}

// PeoplePage is one page of a list of people; More says a next page exists.
type PeoplePage struct {
	People []Person `json:"people"`
	Page   int      `json:"page"`
	More   bool     `json:"more"`
}
