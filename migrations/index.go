package migrations

// Index is an index a model declares beyond its `unique` columns, through
// the ModelIndexes interface.
type Index struct {
	// Name is the index's name; empty means <table>_<columns>_idx (or _key
	// when unique).
	Name    string
	Columns []string
	Unique  bool
}

// ModelIndexes is a bun model that declares its indexes. Single-column and
// grouped unique indexes come from bun tags (`bun:"email,unique"`,
// `bun:"a,unique:a_b"`); other indexes from this method:
//
//	func (*Post) Indexes() []migrations.Index {
//		return []migrations.Index{{Columns: []string{"author_id", "created_at"}}}
//	}
//
// A model that implements ModelIndexes has its indexes fully managed:
// makemigrations drops the indexes of its table that neither the method nor
// the tags declare (expression and partial indexes excepted). A model that
// does not implement it only has missing unique indexes added.
type ModelIndexes interface {
	Indexes() []Index
}
