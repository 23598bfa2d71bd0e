package rules

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

type yamlError struct {
	msg       string
	line, col int
}

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yaml-cpp's wording for the errors users meet most, so messages read like
// Falco's ("yaml-cpp: error at line 1, column 11: illegal map value").
var yamlCppMessages = map[string]string{
	"mapping values are not allowed in this context": "illegal map value",
	"did not find expected key":                      "end of map not found",
	"did not find expected ',' or ']'":               "end of sequence flow not found",
	"did not find expected ',' or '}'":               "end of map flow not found",
	"found character that cannot start any token":    "unknown token",
}

// parseYAML decodes every document of content.
func parseYAML(content string) ([]*yaml.Node, *yamlError) {
	dec := yaml.NewDecoder(bytes.NewReader([]byte(content)))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, convertYAMLError(err, content)
		}
		if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
			docs = append(docs, n.Content[0])
		}
	}
}

func convertYAMLError(err error, content string) *yamlError {
	m := yamlLineRe.FindStringSubmatch(err.Error())
	if m == nil {
		// yaml.v3 leaves out the line when the error is on the first one.
		m = []string{"", "1", strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	msg := m[2]
	col := 1
	if cpp, ok := yamlCppMessages[msg]; ok {
		if msg == "mapping values are not allowed in this context" {
			col = secondMapIndicator(content, line)
		}
		msg = cpp
	}
	return &yamlError{msg: "yaml-cpp: error at line " + m[1] + ", column " + strconv.Itoa(col) + ": " + msg, line: line, col: col}
}

// secondMapIndicator finds the 1-based column of the ": " that makes a
// line an illegal nested mapping (a: b: c), where yaml-cpp reports it.
func secondMapIndicator(content string, line int) int {
	lines := strings.Split(content, "\n")
	if line < 1 || line > len(lines) {
		return 1
	}
	l, seen := lines[line-1], 0
	for i := 0; i < len(l); i++ {
		if l[i] == ':' && (i+1 == len(l) || l[i+1] == ' ' || l[i+1] == '\t') {
			if seen++; seen == 2 {
				return i + 1
			}
		}
	}
	return 1
}
