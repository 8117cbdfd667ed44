package profile

// Index looks models up by traversal key.
type Index struct {
	byKey map[Key][]Model
}

// NewIndex indexes p's models. p must be valid.
func NewIndex(p *Profile) *Index {
	idx := &Index{byKey: make(map[Key][]Model)}
	for _, m := range p.Models {
		idx.byKey[m.Key] = append(idx.byKey[m.Key], m)
	}
	return idx
}

// Models returns the component models for a traversal, or nil.
func (x *Index) Models(k Key) []Model { return x.byKey[k] }

// Has reports whether the profile has any model for k.
func (x *Index) Has(k Key) bool { return len(x.byKey[k]) > 0 }
