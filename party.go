package healthcode

// Party is who did something, as a resident reads it: an official with their
// name and post, or a registered source with its name.
type Party struct {
	Kind string // official, source, system
	ID   string
	Name string
	Role string
	Post string // jurisdiction code of an official's post
}
