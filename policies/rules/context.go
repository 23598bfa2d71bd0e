package rules

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/peregrine-sec/peregrine/policies/condition"
)

// source is a rules file being read: its name and text, to turn YAML node
// marks into positions with offsets.
type source struct {
	name       string
	content    string
	lineStarts []int
}

func newSource(name, content string) *source {
	s := &source{name: name, content: content, lineStarts: []int{0}}
	for i := 0; i < len(content); i++ {
		if content[i] == '\n' {
			s.lineStarts = append(s.lineStarts, i+1)
		}
	}
	return s
}

// pos converts 1-based line and column to Falco's 0-based position.
func (s *source) pos(line, col int) Position {
	p := Position{Name: s.name, Line: max(line-1, 0), Column: max(col-1, 0)}
	if p.Line < len(s.lineStarts) {
		p.Offset = s.lineStarts[p.Line] + p.Column
	}
	return p
}

func (s *source) root() Context {
	return Context{Locations: []Location{{ItemType: itemContent, Position: s.pos(1, 1)}}, content: s.content}
}

// at returns ctx with a location for node n appended.
func (s *source) at(ctx Context, n *yaml.Node, itemType, itemName string) Context {
	line, col := 1, 1
	if n != nil {
		line, col = n.Line, n.Column
	}
	return ctx.with(Location{ItemType: itemType, ItemName: itemName, Position: s.pos(line, col)}, s.content)
}

func (c Context) with(l Location, content string) Context {
	locs := make([]Location, len(c.Locations), len(c.Locations)+1)
	copy(locs, c.Locations)
	return Context{Locations: append(locs, l), content: content}
}

// inCondition returns ctx with the position of a condition error appended.
// Like Falco, the location is named after the start of the condition.
func inCondition(ctx Context, cond string, p condition.Pos) Context {
	name := cond
	if len(name) > 20 {
		name = name[:17] + "..."
	}
	name = strings.NewReplacer("\n", " ", "\r", " ").Replace(`"` + name + `"`)
	l := Location{ItemType: itemCondExpr, Position: Position{Name: name, Line: p.Line, Column: p.Column, Offset: p.Offset}}
	return ctx.with(l, cond)
}

// snippet shows the line of the innermost location with a caret under it.
func snippet(ctx Context) string {
	if len(ctx.Locations) == 0 || ctx.content == "" {
		return ""
	}
	p := ctx.Locations[len(ctx.Locations)-1].Position
	off := min(max(p.Offset, 0), len(ctx.content))
	start := strings.LastIndexByte(ctx.content[:off], '\n') + 1
	end := strings.IndexByte(ctx.content[off:], '\n')
	if end < 0 {
		end = len(ctx.content)
	} else {
		end += off
	}
	line := ctx.content[start:end]
	col := off - start
	if len(line) > 160 {
		if col > 120 {
			line, col = "..."+line[col-100:], 103
		}
		if len(line) > 160 {
			line = line[:160] + "..."
		}
	}
	return line + "\n" + strings.Repeat(" ", col) + "^"
}

// describe prints a location for people: "rule 'x' (file:line:col)", with
// 1-based file positions.
func (l Location) describe() string {
	what := l.ItemType
	if l.ItemName != "" {
		what += fmt.Sprintf(" '%s'", l.ItemName)
	}
	line, col := l.Position.Line, l.Position.Column
	if l.ItemType != itemCondExpr {
		line, col = line+1, col+1
	}
	return fmt.Sprintf("%s: (%s:%d:%d)", what, l.Position.Name, line, col)
}
