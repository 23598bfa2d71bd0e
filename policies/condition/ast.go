package condition

import "strings"

// Pos is a position in a condition string. Line and Column are 1-based,
// Offset is the 0-based byte offset, as libsinsp reports them.
type Pos struct {
	Offset int `json:"offset"`
	Line   int `json:"line"`
	Column int `json:"column"`
}

// Expr is a node of the condition AST.
type Expr interface {
	Position() Pos
	write(b *strings.Builder)
}

// And is an n-ary conjunction.
type And struct {
	Children []Expr
	Pos      Pos
}

// Or is an n-ary disjunction.
type Or struct {
	Children []Expr
	Pos      Pos
}

// Not negates its child.
type Not struct {
	Child Expr
	Pos   Pos
}

// Identifier is a bare name in check position: a macro reference.
type Identifier struct {
	Name string
	Pos  Pos
}

// Value is a literal right-hand side: a string, a number, or the name of a
// list that was not substituted.
type Value struct {
	Value string
	Pos   Pos
}

// List is a parenthesised list of literal values.
type List struct {
	Values []string
	Pos    Pos
}

// Field is a field reference with its optional argument, as in
// proc.aname[2] or ka.uri.param[command].
type Field struct {
	Name   string
	Arg    string
	HasArg bool
	Pos    Pos
}

// Transformer applies a transformer (tolower, b64, join, ...) or val() to
// its arguments; Arg is the optional [arg] that follows the closing paren.
type Transformer struct {
	Name   string
	Args   []Expr
	Arg    string
	HasArg bool
	Pos    Pos
}

// TransformerList is the parenthesised argument list of multi-value
// transformers such as join.
type TransformerList struct {
	Items []Expr
	Pos   Pos
}

// UnaryCheck is a check with no right-hand side: "exists".
type UnaryCheck struct {
	Left Expr
	Op   string
	Pos  Pos
}

// BinaryCheck compares Left with Right. Modifier is "", "oneof", "anyof" or
// "allof" (string operators only).
type BinaryCheck struct {
	Left     Expr
	Op       string
	Modifier string
	Right    Expr
	Pos      Pos
}

func (e *And) Position() Pos             { return e.Pos }
func (e *Or) Position() Pos              { return e.Pos }
func (e *Not) Position() Pos             { return e.Pos }
func (e *Identifier) Position() Pos      { return e.Pos }
func (e *Value) Position() Pos           { return e.Pos }
func (e *List) Position() Pos            { return e.Pos }
func (e *Field) Position() Pos           { return e.Pos }
func (e *Transformer) Position() Pos     { return e.Pos }
func (e *TransformerList) Position() Pos { return e.Pos }
func (e *UnaryCheck) Position() Pos      { return e.Pos }
func (e *BinaryCheck) Position() Pos     { return e.Pos }
