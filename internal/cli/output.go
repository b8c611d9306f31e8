package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// jsonOptions render messages as the REST API does: camelCase names, fields at their default value included.
var jsonOptions = protojson.MarshalOptions{EmitDefaultValues: true}

// printer writes results as JSON or as a table.
type printer struct {
	w      io.Writer
	format string // "json" or "table"
}

func (e *env) printer(c *common) printer { return printer{w: e.io.Stdout, format: c.output} }

// object prints one message: its JSON, or a two-column FIELD VALUE table of its set fields.
func (p printer) object(m proto.Message) error {
	if p.format == "json" {
		return p.json(m)
	}
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	r := m.ProtoReflect()
	fields := r.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.HasPresence() && !r.Has(fd) && fd.Message() == nil {
			continue // an unset optional field, e.g. a secret's value outside its create answer
		}
		fmt.Fprintf(tw, "%s\t%s\n", fd.JSONName(), cell(r, fd))
	}
	return tw.Flush()
}

// list prints a list answer: its JSON ({"items": […]}), or one row per item with the given JSON field names
// as columns.
func (p printer) list(resp proto.Message, items []proto.Message, columns ...string) error {
	if p.format == "json" {
		return p.json(resp)
	}
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	header := make([]string, len(columns))
	for i, c := range columns {
		header[i] = headerName(c)
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, it := range items {
		r := it.ProtoReflect()
		row := make([]string, len(columns))
		for i, c := range columns {
			fd := r.Descriptor().Fields().ByJSONName(c)
			if fd == nil {
				panic("cli: no field " + c + " in " + string(r.Descriptor().FullName()))
			}
			row[i] = cell(r, fd)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// done prints the answer of a call that returns nothing: {} in JSON, a sentence in a table.
func (p printer) done(format string, args ...any) error {
	if p.format == "json" {
		_, err := fmt.Fprintln(p.w, "{}")
		return err
	}
	_, err := fmt.Fprintf(p.w, format+"\n", args...)
	return err
}

// json prints m with protojson, re-indented by encoding/json so that the output is byte-stable
// (protojson varies its whitespace on purpose).
func (p printer) json(m proto.Message) error {
	b, err := jsonOptions.Marshal(m)
	if err != nil {
		return err
	}
	return writeIndented(p.w, b)
}

func writeIndented(w io.Writer, b []byte) error {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}

// cell renders one field for a table: lists joined by commas, timestamps in RFC 3339 (UTC), nested
// messages as compact JSON, "-" for nothing.
func cell(r protoreflect.Message, fd protoreflect.FieldDescriptor) string {
	v := r.Get(fd)
	switch {
	case fd.IsList():
		l := v.List()
		parts := make([]string, l.Len())
		for i := range l.Len() {
			parts[i] = scalar(fd, l.Get(i))
		}
		return orDash(strings.Join(parts, ","))
	case fd.IsMap():
		return fmt.Sprintf("%d entries", v.Map().Len())
	case fd.Message() != nil:
		if !r.Has(fd) {
			return "-"
		}
		if ts, ok := v.Message().Interface().(*timestamppb.Timestamp); ok {
			return ts.AsTime().UTC().Format(time.RFC3339)
		}
		b, err := protojson.Marshal(v.Message().Interface())
		if err != nil {
			return "?"
		}
		var compact bytes.Buffer
		if json.Compact(&compact, b) != nil {
			return string(b)
		}
		return orDash(compact.String())
	}
	return orDash(scalar(fd, v))
}

func scalar(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BoolKind:
		return strconv.FormatBool(v.Bool())
	case protoreflect.BytesKind:
		return fmt.Sprintf("%x", v.Bytes())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
	}
	return fmt.Sprint(v.Interface())
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// headerName turns a JSON name into a column header: clientId → CLIENT_ID.
func headerName(jsonName string) string {
	var b strings.Builder
	for i, r := range jsonName {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// messages converts a typed slice for printer.list.
func messages[T proto.Message](items []T) []proto.Message {
	out := make([]proto.Message, len(items))
	for i, it := range items {
		out[i] = it
	}
	return out
}
