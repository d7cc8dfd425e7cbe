package healthcode

// Person is a resident as officials' lists show them: by name, with the
// ID number masked, their community and their code's colour.
type Person struct {
	ID               string
	Name             string
	IDMasked         string
	Jurisdiction     string
	JurisdictionName string
	Colour           Colour // "" when the code is withheld (it differs from the log)
}

// PeoplePage is one page of a list of people; More says a next page exists.
type PeoplePage struct {
	People []Person
	Page   int
	More   bool
}
