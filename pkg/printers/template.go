package printers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/template"

	"k8s.io/client-go/util/jsonpath"

	"github.com/meshinsight/kubectl-meshinsight/pkg/predict"
)

// Template is a parsed -o jsonpath=… or -o go-template=… output, applied
// to the report as its JSON form holds it (the field names of -o json), as
// kubectl applies them to objects.
type Template struct {
	exec func(w io.Writer, data any) error
}

// ParseTemplate parses an output spelled "jsonpath=TEMPLATE" or
// "go-template=TEMPLATE"; ok is false for any other output.
func ParseTemplate(output string) (t *Template, ok bool, err error) {
	switch {
	case strings.HasPrefix(output, "jsonpath="):
		text := strings.TrimPrefix(output, "jsonpath=")
		if !strings.Contains(text, "{") {
			text = "{" + text + "}" // kubectl's shorthand: -o jsonpath=.a.b
		}
		jp := jsonpath.New("output")
		if err := jp.Parse(text); err != nil {
			return nil, true, fmt.Errorf("parsing -o jsonpath template: %w", err)
		}
		return &Template{exec: jp.Execute}, true, nil
	case strings.HasPrefix(output, "go-template="):
		tmpl, err := template.New("output").Option("missingkey=error").Parse(strings.TrimPrefix(output, "go-template="))
		if err != nil {
			return nil, true, fmt.Errorf("parsing -o go-template: %w", err)
		}
		return &Template{exec: tmpl.Execute}, true, nil
	}
	return nil, false, nil
}

// Print applies the template to r. The report is checked first, as Print
// checks it; nothing is written when the template fails.
func (t *Template) Print(w io.Writer, r *predict.Report) error {
	if r == nil {
		return fmt.Errorf("no report to print")
	}
	if err := r.Check(); err != nil {
		return err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding the report: %w", err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("decoding the report: %w", err)
	}
	var buf bytes.Buffer
	if err := t.exec(&buf, v); err != nil {
		return fmt.Errorf("applying the output template: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}
