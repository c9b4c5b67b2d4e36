package sweep

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// The spec's YAML is checked against its schema (the yaml tags of specYAML
// and the structs it holds) before it is decoded, so that a mistyped field
// or a value of the wrong kind is reported by its path in the spec, with the
// fields allowed there, instead of by a Go type name.

var (
	nodeType = reflect.TypeOf(yaml.Node{})
	clipType = reflect.TypeOf(clipYAML{})
)

// clipSchema is the mapping form of a grid.clip entry ("off" is the scalar
// form, which clipYAML.UnmarshalYAML checks).
type clipSchema struct {
	Off   bool    `yaml:"off"`
	Alpha float64 `yaml:"alpha"`
	Beta  float64 `yaml:"beta"`
}

// schemaChecker walks a YAML tree against a Go type.
type schemaChecker struct {
	errs *fieldErrors
	// aliased holds the anchored nodes already checked, by type: an alias
	// is checked once, so that nested aliases (a "billion laughs"
	// document) cost no more than the document's length.
	aliased map[aliasKey]bool
}

type aliasKey struct {
	n *yaml.Node
	t reflect.Type
}

// checkSchema reports every field of n that t does not have and every value
// whose kind does not fit its field, with its path and line.
func checkSchema(n *yaml.Node, t reflect.Type, path string, errs *fieldErrors) {
	c := &schemaChecker{errs: errs, aliased: map[aliasKey]bool{}}
	c.check(n, t, path)
}

func (c *schemaChecker) check(n *yaml.Node, t reflect.Type, path string) {
	errs := c.errs
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		k := aliasKey{n.Alias, t}
		if c.aliased[k] {
			return
		}
		c.aliased[k] = true
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value leaves the field unset
	}
	switch {
	case t == nodeType:
		return // kept as written (device-axis values), checked when used
	case t == clipType:
		if n.Kind == yaml.MappingNode {
			c.check(n, reflect.TypeOf(clipSchema{}), path)
		}
		return // the scalar form is checked by clipYAML.UnmarshalYAML
	}
	switch t.Kind() {
	case reflect.Struct:
		c.checkMapping(n, t, path)
	case reflect.Slice:
		switch {
		case n.Kind == yaml.ScalarNode:
			errs.add(at(path, n), "want a list, e.g. [%s]", n.Value)
			return
		case n.Kind != yaml.SequenceNode:
			errs.add(at(path, n), "want a list, not a %s", kindName(n.Kind))
			return
		}
		for i, e := range n.Content {
			c.check(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		checkScalar(n, t, path, errs)
	}
}

// checkMapping checks a mapping node against struct type t.
func (c *schemaChecker) checkMapping(n *yaml.Node, t reflect.Type, path string) {
	errs := c.errs
	fields := yamlFieldTypes(t)
	if n.Kind != yaml.MappingNode {
		errs.add(at(orTop(path), n), "want a mapping of fields (%s)", strings.Join(yamlFields(reflect.New(t).Elem().Interface()), ", "))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" { // "<<: *anchor" merges the anchor's fields here
			c.checkMerge(v, t, path)
			continue
		}
		ft, ok := fields[k.Value]
		if !ok {
			where := "at the top level"
			if path != "" {
				where = "in " + path
			}
			errs.add(at(join(path, k.Value), k), "unknown field; the fields allowed %s are %s",
				where, strings.Join(yamlFields(reflect.New(t).Elem().Interface()), ", "))
			continue
		}
		c.check(v, ft, join(path, k.Value))
	}
}

// checkMerge checks the mapping (or list of mappings) merged by a "<<" key.
func (c *schemaChecker) checkMerge(v *yaml.Node, t reflect.Type, path string) {
	if v.Kind == yaml.SequenceNode {
		for _, e := range v.Content {
			c.check(e, t, path)
		}
		return
	}
	c.check(v, t, path)
}

// checkScalar checks that n holds a value of t's kind.
func checkScalar(n *yaml.Node, t reflect.Type, path string, errs *fieldErrors) {
	want := map[reflect.Kind]string{
		reflect.Float64: "a number", reflect.Int32: "a whole number", reflect.Int: "a whole number",
		reflect.Uint64: "a whole number >= 0", reflect.Bool: "true or false", reflect.String: "a text value",
	}[t.Kind()]
	if n.Kind != yaml.ScalarNode {
		errs.add(at(path, n), "want %s, not a %s", want, kindName(n.Kind))
		return
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		errs.add(at(path, n), "%q is not %s", n.Value, want)
	}
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

// at is a field path with the line it was written on.
func at(path string, n *yaml.Node) string { return fmt.Sprintf("%s (line %d)", path, n.Line) }

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func orTop(path string) string {
	if path == "" {
		return "spec"
	}
	return path
}

// yamlFieldTypes maps the YAML names of struct type t's fields to their types.
func yamlFieldTypes(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		if name := yamlName(t.Field(i)); name != "" {
			m[name] = t.Field(i).Type
		}
	}
	return m
}

// yamlFields lists the YAML names of v's fields in declaration order.
func yamlFields(v any) []string {
	t := reflect.TypeOf(v)
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if name := yamlName(t.Field(i)); name != "" {
			out = append(out, name)
		}
	}
	return out
}

func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}
