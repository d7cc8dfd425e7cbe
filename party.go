package healthcode

// Party is who did something, as a resident reads it: an official with their
// name and post, or a registered source with its name.
type Party struct {
	Kind string `json:"kind"` // official, source, system
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role,omitempty"`
	Post string `json:"post,omitempty"` // jurisdiction code of an official's post
}
