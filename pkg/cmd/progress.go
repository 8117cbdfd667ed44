package cmd

import (
	"fmt"
	"io"
	"os"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	"github.com/meshinsight/kubectl-meshinsight/pkg/safetext"
)

// progress shows a profiling run on stderr: phase lines and, on a
// terminal, a bar of measurement cells; plain lines otherwise; nothing when
// quiet.
type progress struct {
	w     io.Writer
	tty   bool
	quiet bool
	bar   *progressbar.ProgressBar
	last  string
}

func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w, quiet: quiet}
	if f, ok := w.(*os.File); ok {
		p.tty = isatty.IsTerminal(f.Fd())
	}
	return p
}

func (p *progress) Phase(name string) {
	if p.quiet {
		return
	}
	p.finishBar()
	fmt.Fprintf(p.w, "» %s\n", safetext.Escape(name))
}

func (p *progress) Update(done, total int, msg string) {
	if p.quiet || total <= 0 {
		return
	}
	if !p.tty {
		line := fmt.Sprintf("  %d/%d cells: %s", done, total, safetext.Escape(msg))
		if line != p.last {
			fmt.Fprintln(p.w, line)
			p.last = line
		}
		return
	}
	if p.bar == nil || p.bar.GetMax() != total {
		p.finishBar()
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription("profiling"), progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true), progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish())
	}
	_ = p.bar.Set(done)
}

func (p *progress) finishBar() {
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
}
