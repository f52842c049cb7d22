package segment

import "strconv"

// Params numbers the parameters of a statement built in code (the segment queries and the
// broadcast expansion), so no placeholder is numbered by hand: Add takes a value and answers its
// placeholder.
type Params struct {
	Values []any
}

// Add appends v and returns its placeholder ("$3").
func (p *Params) Add(v any) string {
	p.Values = append(p.Values, v)
	return "$" + strconv.Itoa(len(p.Values))
}
