package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/dripcast/dripcast/invalid"
	"github.com/dripcast/dripcast/queries"
	"github.com/dripcast/dripcast/role"
	"github.com/dripcast/dripcast/segment"
)

// The segment builder: the rule tree the API takes, as a form. Each node's fields are named by
// its place in the tree ("r" the root group, "r.0" its first child, "r.0.2" …): r.kind is all,
// any, not or cond; a condition has r.0.field, r.0.attr (for an attribute), r.0.op, r.0.value.
// Buttons named act add a condition or a group to a group, or remove a node; the page comes back
// with the tree changed. Without the page's script it all still works by these round trips.

// ruleNode is one node of the builder.
type ruleNode struct {
	Path                   string
	Kind                   string // all, any, not, cond
	Field, Attr, Op, Value string
	Children               []ruleNode
}

// builderFields are the contact fields a condition may read; "attribute" reads attributes.<Attr>.
var builderFields = []string{"name", "email", "phone", "country", "time_zone", "opted_in", "tags", "created_at", "updated_at", "attribute"}

// builderOps are the operators, with what each reads as its value.
var builderOps = []struct{ Op, Label string }{{"eq", "is"}, {"neq", "is not"}, {"contains", "contains"}, {"in", "is one of (a, b, c)"},
	{"exists", "is set"}, {"before", "is before (date)"}, {"after", "is after (date)"}, {"within", "within the last (days)"},
	{"gt", "is more than"}, {"lt", "is less than"}}

// maxBuilderNodes bounds what a form may describe (the rules allow as many).
const maxBuilderNodes = segment.MaxNodes

// readTree reads the builder's fields of the tree at root ("r" on the segment page); count
// bounds the nodes read.
func readTree(vals url.Values, root string) ruleNode {
	count := 0
	return readNode(vals, root, 1, &count)
}

func readNode(vals url.Values, path string, depth int, count *int) ruleNode {
	*count++
	n := ruleNode{Path: path, Kind: vals.Get(path + ".kind"), Field: vals.Get(path + ".field"), Attr: strings.TrimSpace(vals.Get(path + ".attr")),
		Op: vals.Get(path + ".op"), Value: vals.Get(path + ".value")}
	if n.Kind == "" {
		n.Kind = "all"
	}
	if n.Kind == "cond" || depth > segment.MaxDepth {
		return n
	}
	for i := 0; *count < maxBuilderNodes && vals.Has(fmt.Sprintf("%s.%d.kind", path, i)); i++ {
		n.Children = append(n.Children, readNode(vals, fmt.Sprintf("%s.%d", path, i), depth+1, count))
	}
	return n
}

// renumber gives every node its path after a change.
func (n *ruleNode) renumber(path string) {
	n.Path = path
	for i := range n.Children {
		n.Children[i].renumber(fmt.Sprintf("%s.%d", path, i))
	}
}

// act applies a builder button: "add-cond:r.0", "add-any:r", "add-all:…", "add-not:…",
// "remove:r.0.1".
func (n *ruleNode) act(action string) {
	verb, target, _ := strings.Cut(action, ":")
	switch {
	case verb == "remove" && n.remove(target):
	case strings.HasPrefix(verb, "add-"):
		if g := n.find(target); g != nil && g.Kind != "cond" {
			child := ruleNode{Kind: strings.TrimPrefix(verb, "add-")}
			if child.Kind == "cond" {
				child.Field, child.Op = "tags", "contains"
			} else {
				child.Children = []ruleNode{{Kind: "cond", Field: "tags", Op: "contains"}}
			}
			g.Children = append(g.Children, child)
		}
	}
	n.renumber(n.Path)
}

// IsRoot says whether the node is its tree's root, which cannot be removed.
func (n ruleNode) IsRoot() bool { return !strings.Contains(n.Path, ".") }

func (n *ruleNode) find(path string) *ruleNode {
	if n.Path == path {
		return n
	}
	for i := range n.Children {
		if strings.HasPrefix(path, n.Children[i].Path) {
			if found := n.Children[i].find(path); found != nil {
				return found
			}
		}
	}
	return nil
}

func (n *ruleNode) remove(path string) bool {
	for i := range n.Children {
		if n.Children[i].Path == path {
			n.Children = append(n.Children[:i], n.Children[i+1:]...)
			return true
		}
		if n.Children[i].remove(path) {
			return true
		}
	}
	return false
}

// rule is the tree as the API's rule; a "not" group negates all of its children together.
func (n ruleNode) rule() (segment.Rule, error) {
	if n.Kind == "cond" {
		return n.condition()
	}
	children := make([]segment.Rule, 0, len(n.Children))
	for _, c := range n.Children {
		r, err := c.rule()
		if err != nil {
			return segment.Rule{}, err
		}
		children = append(children, r)
	}
	switch n.Kind {
	case "any":
		return segment.Rule{Any: children}, nil
	case "not":
		inner := segment.Rule{All: children}
		return segment.Rule{Not: &inner}, nil
	}
	return segment.Rule{All: children}, nil
}

// condition types the typed value as its field and operator read it.
func (n ruleNode) condition() (segment.Rule, error) {
	r := segment.Rule{Field: n.Field, Op: n.Op}
	if n.Field == "attribute" {
		r.Field = "attributes." + n.Attr
	}
	val := strings.TrimSpace(n.Value)
	var v any = val
	switch {
	case n.Op == "exists":
		return r, nil
	case n.Op == "in":
		list := []string{}
		for _, item := range strings.Split(val, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
		v = list
	case n.Field == "opted_in":
		v = val == "true" || val == "yes"
	case n.Op == "within" || n.Op == "gt" || n.Op == "lt":
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return r, invalid.Field("", "%s: give a number", n.label())
		}
		v = f
		if n.Op == "within" {
			v = int(f)
		}
	}
	r.Value, _ = json.Marshal(v)
	return r, nil
}

func (n ruleNode) label() string {
	if n.Field == "attribute" {
		return "attribute " + n.Attr
	}
	return n.Field
}

// treeOf shows a stored rule in the builder at root (a root that is not a group goes inside one).
func treeOf(r segment.Rule, root string) ruleNode {
	n := nodeOf(r)
	if n.Kind == "cond" {
		n = ruleNode{Kind: "all", Children: []ruleNode{n}}
	}
	n.renumber(root)
	return n
}

func nodeOf(r segment.Rule) ruleNode {
	switch {
	case r.All != nil || r.Any != nil:
		n, list := ruleNode{Kind: "all"}, r.All
		if r.Any != nil {
			n.Kind, list = "any", r.Any
		}
		for _, c := range list {
			n.Children = append(n.Children, nodeOf(c))
		}
		return n
	case r.Not != nil:
		n := ruleNode{Kind: "not"}
		if r.Not.All != nil {
			for _, c := range r.Not.All {
				n.Children = append(n.Children, nodeOf(c))
			}
		} else {
			n.Children = []ruleNode{nodeOf(*r.Not)}
		}
		return n
	}
	n := ruleNode{Kind: "cond", Field: r.Field, Op: r.Op}
	if attr, ok := strings.CutPrefix(r.Field, "attributes."); ok {
		n.Field, n.Attr = "attribute", attr
	}
	var v any
	_ = json.Unmarshal(r.Value, &v)
	switch x := v.(type) {
	case nil:
	case string:
		n.Value = x
	case []any:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = fmt.Sprint(p)
		}
		n.Value = strings.Join(parts, ", ")
	default:
		n.Value = fmt.Sprint(x)
	}
	return n
}

// segmentCount is the builder's live count: how many contacts the rules match, and a few of them.
type segmentCount struct {
	N       int64
	Sample  []queries.Contact
	Problem string
}

// count counts the tree's contacts, or says what is wrong with it.
func (c *Console) count(r *http.Request, v *visit, tree ruleNode) (segmentCount, error) {
	rule, err := tree.rule()
	if err == nil {
		err = segment.Check(rule)
	}
	if e, ok := invalid.As(err); ok {
		return segmentCount{Problem: e.Error()}, nil
	}
	if err != nil {
		return segmentCount{}, err
	}
	if rule.Uses("phone") && !role.SeesPhones(v.sess.Role) {
		return segmentCount{Problem: "Your role sees phone numbers masked, so it cannot count by phone."}, nil
	}
	out := segmentCount{}
	if out.N, err = segment.Count(r.Context(), c.db, v.sess.AccountID, &rule); err != nil {
		return out, err
	}
	out.Sample, err = segment.Contacts(r.Context(), c.db, v.sess.AccountID, &rule, 0, 5)
	return out, err
}

func (c *Console) segmentList(w http.ResponseWriter, r *http.Request, v *visit) error {
	rows, err := c.q.ListSegments(r.Context(), queries.ListSegmentsParams{AccountID: v.sess.AccountID, Lim: listLimit})
	if err != nil {
		return err
	}
	c.render(w, r, v, http.StatusOK, "segments", "Segments", map[string]any{"Segments": rows, "Deleted": r.URL.Query().Get("deleted") != ""})
	return nil
}

// builder is what the builder page shows.
type builder struct {
	ID      int64 // 0 for a new segment
	Name    string
	Tree    ruleNode
	Count   segmentCount
	Uses    []queries.SegmentBroadcastsRow
	Form    *form
	Fields  []string
	Ops     any
	Saved   bool
	CanEdit bool
}

// nodeView is a node with its builder, for the page's recursive template.
type nodeView struct {
	N ruleNode
	B builder
}

// With pairs a node with the builder.
func (b builder) With(n ruleNode) nodeView { return nodeView{n, b} }

func (c *Console) showBuilder(w http.ResponseWriter, r *http.Request, v *visit, status int, b builder) error {
	var err error
	if b.Count, err = c.count(r, v, b.Tree); err != nil {
		return err
	}
	if b.ID != 0 {
		if b.Uses, err = c.q.SegmentBroadcasts(r.Context(), queries.SegmentBroadcastsParams{AccountID: v.sess.AccountID, SegmentID: b.ID}); err != nil {
			return err
		}
	}
	if b.Form == nil {
		b.Form = &form{Errors: map[string]string{}}
	}
	b.Fields, b.Ops, b.CanEdit = builderFields, builderOps, role.Editors.Allows(v.sess.Role)
	title := "New segment"
	if b.ID != 0 {
		title = b.Name
	}
	c.render(w, r, v, status, "segment", title, b)
	return nil
}

func (c *Console) newSegment(w http.ResponseWriter, r *http.Request, v *visit) error {
	tree := ruleNode{Kind: "all", Children: []ruleNode{{Kind: "cond", Field: "opted_in", Op: "eq", Value: "true"}}}
	tree.renumber("r")
	return c.showBuilder(w, r, v, http.StatusOK, builder{Tree: tree})
}

func (c *Console) segmentPage(w http.ResponseWriter, r *http.Request, v *visit) error {
	s, err := rowOf(c, r, v, segment.Get)
	if err != nil {
		return err
	}
	rule, err := segment.Parse(s.Rules)
	if err != nil {
		return err
	}
	return c.showBuilder(w, r, v, http.StatusOK, builder{ID: s.ID, Name: s.Name, Tree: treeOf(rule, "r"), Saved: r.URL.Query().Get("saved") != ""})
}

// saveSegment handles the builder's buttons for a new segment (id 0) or a saved one: a change to
// the tree comes back as the page; save stores it.
func (c *Console) saveSegment(w http.ResponseWriter, r *http.Request, v *visit, id int64) error {
	f := newForm(r)
	b := builder{ID: id, Name: f.Get("name"), Tree: readTree(r.PostForm, "r"), Form: f}
	b.Tree.renumber("r")
	if act := f.Get("act"); act != "" {
		b.Tree.act(act)
		return c.showBuilder(w, r, v, http.StatusOK, b)
	}
	rule, err := b.Tree.rule()
	var saved segment.View
	if err == nil {
		raw, _ := json.Marshal(rule)
		if id == 0 {
			saved, err = segment.Create(r.Context(), c.db, v.sess.Actor(v.ip), b.Name, raw)
		} else {
			saved, err = segment.Update(r.Context(), c.db, v.sess.Actor(v.ip), id, b.Name, raw)
		}
	}
	switch e, ok := invalid.As(err); {
	case ok && e.Code == invalid.CodeConflict: // the name is taken
		f.Errors["name"], err = e.Message, nil
	case ok && e.Code == invalid.Code && e.Field != "name": // the rules: above the builder
		f.Error, err = e.Error(), nil
	}
	if err = f.take(err); err != nil {
		return err
	}
	if !f.ok() {
		return c.showBuilder(w, r, v, http.StatusBadRequest, b)
	}
	http.Redirect(w, r, fmt.Sprintf("/segments/%d?saved=1", saved.ID), http.StatusSeeOther)
	return nil
}

func (c *Console) createSegment(w http.ResponseWriter, r *http.Request, v *visit) error {
	return c.saveSegment(w, r, v, 0)
}

func (c *Console) updateSegment(w http.ResponseWriter, r *http.Request, v *visit) error {
	s, err := rowOf(c, r, v, segment.Get)
	if err != nil {
		return err
	}
	return c.saveSegment(w, r, v, s.ID)
}

func (c *Console) deleteSegment(w http.ResponseWriter, r *http.Request, v *visit) error {
	s, err := rowOf(c, r, v, segment.Get)
	if err != nil {
		return err
	}
	if err := segment.Delete(r.Context(), c.db, v.sess.Actor(v.ip), s.ID); err != nil {
		return err
	}
	http.Redirect(w, r, "/segments?deleted=1", http.StatusSeeOther)
	return nil
}

// countPart answers the builder's live count for the tree in the query (the page's script asks
// as the rules change).
func (c *Console) countPart(w http.ResponseWriter, r *http.Request, v *visit) error {
	tree := readTree(r.URL.Query(), "r")
	n, err := c.count(r, v, tree)
	if err != nil {
		return err
	}
	c.render(w, r, v, http.StatusOK, "segment-count-part", "", n)
	return nil
}
