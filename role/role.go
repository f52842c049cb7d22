// Package role is who may do what: the roles of API keys and console users, and the sets of
// roles each route allows. The API and the console check the same sets.
package role

// Set is a set of roles.
type Set uint8

// The roles.
const (
	Owner       Set = 1 << iota // everything, keys and users included
	Admin                       // everything but keys and users
	Marketer                    // audience, templates, broadcasts, sequences
	Analyst                     // reads, with phone numbers masked
	Integration                 // events only (and integration webhooks, which are signed); keys only
)

// The role sets routes use.
const (
	Admins  = Owner | Admin
	Editors = Admins | Marketer
	Readers = Editors | Analyst
	Ingest  = Editors | Integration
	Any     = Readers | Integration
)

// Names are the roles as keys and users store them.
var Names = map[string]Set{"owner": Owner, "admin": Admin, "marketer": Marketer, "analyst": Analyst, "integration": Integration}

// Allows tells whether the role stored as name is in s.
func (s Set) Allows(name string) bool { return Names[name]&s != 0 }

// People are the roles a console user can have (integration is for keys only).
var People = []string{"owner", "admin", "marketer", "analyst"}

// SeesPhones tells whether the role stored as name sees phone numbers in clear: an analyst sees
// them masked, in the API and the console alike.
func SeesPhones(name string) bool { return name != "analyst" }
