package rules

import "fmt"

// Code is a Falco load-result code.
type Code string

// Error codes.
const (
	ErrFileRead         Code = "LOAD_ERR_FILE_READ"
	ErrYAMLParse        Code = "LOAD_ERR_YAML_PARSE"
	ErrYAMLValidate     Code = "LOAD_ERR_YAML_VALIDATE"
	ErrCompileCondition Code = "LOAD_ERR_COMPILE_CONDITION"
	ErrCompileOutput    Code = "LOAD_ERR_COMPILE_OUTPUT"
	ErrValidate         Code = "LOAD_ERR_VALIDATE"
	ErrExtension        Code = "LOAD_ERR_EXTENSION"
)

// Warning codes.
const (
	WarnUnknownSource      Code = "LOAD_UNKNOWN_SOURCE"
	WarnUnsafeNACheck      Code = "LOAD_UNSAFE_NA_CHECK"
	WarnNoEvttype          Code = "LOAD_NO_EVTTYPE"
	WarnUnknownFilter      Code = "LOAD_UNKNOWN_FILTER"
	WarnUnusedMacro        Code = "LOAD_UNUSED_MACRO"
	WarnUnusedList         Code = "LOAD_UNUSED_LIST"
	WarnUnknownItem        Code = "LOAD_UNKNOWN_ITEM"
	WarnDeprecatedItem     Code = "LOAD_DEPRECATED_ITEM"
	WarnExtension          Code = "LOAD_WARNING_EXTENSION"
	WarnAppendNoValues     Code = "LOAD_APPEND_NO_VALUES"
	WarnExceptionNotUnique Code = "LOAD_EXCEPTION_NAME_NOT_UNIQUE"
	WarnInvalidMacroName   Code = "LOAD_INVALID_MACRO_NAME"
	WarnInvalidListName    Code = "LOAD_INVALID_LIST_NAME"
	WarnCompileCondition   Code = "LOAD_COMPILE_CONDITION"
	WarnUnknownKey         Code = "LOAD_UNKNOWN_KEY"
)

var codeDescs = map[Code]string{
	ErrFileRead:            "File read error",
	ErrYAMLParse:           "YAML parse error",
	ErrYAMLValidate:        "Error validating internal structure of YAML file",
	ErrCompileCondition:    "Error compiling condition",
	ErrCompileOutput:       "Error compiling output",
	ErrValidate:            "Error validating rule/macro/list/exception objects",
	ErrExtension:           "Error in extension item",
	WarnUnknownSource:      "Unknown event source",
	WarnUnsafeNACheck:      "Unsafe <NA> comparison in condition",
	WarnNoEvttype:          "Condition has no event-type restriction",
	WarnUnknownFilter:      "Unknown field or event-type in condition or output",
	WarnUnusedMacro:        "Unused macro",
	WarnUnusedList:         "Unused list",
	WarnUnknownItem:        "Unknown rules file item",
	WarnDeprecatedItem:     "Used deprecated item",
	WarnExtension:          "Extension item has a warning",
	WarnAppendNoValues:     "Overriding/appending with no values",
	WarnExceptionNotUnique: "Multiple exceptions defined with the same name",
	WarnInvalidMacroName:   "Invalid macro name",
	WarnInvalidListName:    "Invalid list name",
	WarnCompileCondition:   "Condition has been compiled with a warning",
	WarnUnknownKey:         "Unknown key in item",
}

// Desc is the code's description, as Falco prints it.
func (c Code) Desc() string { return codeDescs[c] }

// Item types, as Falco names them in contexts.
const (
	itemValueFor        = "value for"
	itemExceptions      = "exceptions"
	itemException       = "exception"
	itemExceptionValues = "exception values"
	itemExceptionValue  = "exception value"
	itemContent         = "rules content"
	itemContentItem     = "rules content item"
	itemEngineVersion   = "required_engine_version"
	itemPluginVersions  = "required plugin versions"
	itemPluginEntry     = "required plugin versions entry"
	itemPluginAlt       = "required plugin versions alternative"
	itemList            = "list"
	itemListItem        = "list item"
	itemMacro           = "macro"
	itemMacroCondition  = "macro condition"
	itemRule            = "rule"
	itemRuleCondition   = "rule condition"
	itemCondExpr        = "condition expression"
	itemRuleOutput      = "rule output"
	itemRulePriority    = "rule priority"
	itemOverrides       = "overrides"
)

// Position is a place in a file or in a condition. For files, line and
// column are 0-based as in Falco (yaml-cpp marks); for conditions they are
// libsinsp's 1-based parser positions.
type Position struct {
	Name   string `json:"name"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Offset int    `json:"offset"`
}

// Location is one level of an issue's context.
type Location struct {
	ItemType string   `json:"item_type"`
	ItemName string   `json:"item_name"`
	Position Position `json:"position"`
}

// Context locates an issue, outermost location first.
type Context struct {
	Locations []Location `json:"locations"`
	Snippet   string     `json:"snippet"`
	content   string     // the text positions of the innermost location refer to
}

// Issue is one error or warning.
type Issue struct {
	Code     Code    `json:"code"`
	CodeDesc string  `json:"codedesc"`
	Message  string  `json:"message"`
	Context  Context `json:"context"`
}

func (i Issue) Error() string { return fmt.Sprintf("%s: %s", i.Code, i.Message) }

// Result is the outcome of loading one file, as in Falco's falco_load_results.
type Result struct {
	Name       string  `json:"name"`
	Successful bool    `json:"successful"`
	Errors     []Issue `json:"errors"`
	Warnings   []Issue `json:"warnings"`
}

func (r *Result) add(list *[]Issue, code Code, msg string, ctx Context) {
	ctx.Snippet = snippet(ctx)
	*list = append(*list, Issue{Code: code, CodeDesc: code.Desc(), Message: msg, Context: ctx})
}

func (r *Result) addError(code Code, msg string, ctx Context) {
	r.add(&r.Errors, code, msg, ctx)
	r.Successful = false
}

func (r *Result) addWarning(code Code, msg string, ctx Context) {
	r.add(&r.Warnings, code, msg, ctx)
}
