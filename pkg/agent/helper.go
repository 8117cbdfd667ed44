package agent

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/meshinsight/kubectl-meshinsight/pkg/loadgen"
)

// The helper subcommands the agent re-executes inside the pods, with their
// flags. A program named by Config.Helper implements them by calling Serve
// and RunLoadFile.
const (
	ServeCommand      = "serve"
	LoadCommand       = "load"
	LoadServerCommand = "load-server"
	FlagTokenFile     = "token-file"

	FlagProtocol = "protocol"
	FlagListen   = "listen"
	FlagJob      = "job"
	FlagOut      = "out"
)

// ServeArgv is the argv of the echo-server helper.
func ServeArgv(helper []string, protocol loadgen.Protocol, listen string) []string {
	argv := append([]string(nil), helper...)
	return append(argv, ServeCommand, "--"+FlagProtocol, string(protocol), "--"+FlagListen, listen)
}

// LoadArgv is the argv of the load helper reading job from jobPath and
// writing its LoadOutcome to outPath.
func LoadArgv(helper []string, jobPath, outPath string) []string {
	argv := append([]string(nil), helper...)
	return append(argv, LoadCommand, "--"+FlagJob, jobPath, "--"+FlagOut, outPath)
}

// LoadServerArgv is the argv of the load server helper listening on
// listen (host:port or unix:PATH) with the token in tokenFile.
func LoadServerArgv(helper []string, listen, tokenFile string) []string {
	argv := append([]string(nil), helper...)
	return append(argv, LoadServerCommand, "--"+FlagListen, listen, "--"+FlagTokenFile, tokenFile)
}

// LoadJob is what one load helper run does: Rounds pairs of Mesh then
// Bypass (loadgen.Interleave), or Mesh alone when Bypass.Target is empty.
type LoadJob struct {
	Mesh   loadgen.LoadConfig `json:"mesh"`
	Bypass loadgen.LoadConfig `json:"bypass"`
	Rounds int                `json:"rounds"`
}

// LoadOutcome is the load helper's result: one loadgen.Result per run.
type LoadOutcome struct {
	Mesh   []*loadgen.Result `json:"mesh"`
	Bypass []*loadgen.Result `json:"bypass,omitempty"`
}

// Serve runs the echo server until ctx is done (the helper's signal context:
// Process.Stop sends SIGTERM).
func Serve(ctx context.Context, protocol, listen string) error {
	p, err := loadgen.ParseProtocol(protocol)
	if err != nil {
		return fmt.Errorf("serving: %w", err)
	}
	srv, err := loadgen.Serve(ctx, loadgen.ServerConfig{Protocol: p, Listen: listen})
	if err != nil {
		return fmt.Errorf("serving %s on %s: %w", p, listen, err)
	}
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		return fmt.Errorf("stopping the echo server: %w", err)
	}
	return nil
}

// RunLoad runs a load job.
func RunLoad(ctx context.Context, job LoadJob) (*LoadOutcome, error) {
	rounds := max(job.Rounds, 1)
	if job.Bypass.Target == "" {
		out := &LoadOutcome{}
		for i := 0; i < rounds; i++ {
			r, err := loadgen.Run(ctx, job.Mesh)
			if err != nil {
				return out, fmt.Errorf("load round %d on %s: %w", i+1, job.Mesh.Target, err)
			}
			out.Mesh = append(out.Mesh, r)
		}
		return out, nil
	}
	mesh, bypass, err := loadgen.Interleave(ctx, job.Mesh, job.Bypass, rounds)
	out := &LoadOutcome{Mesh: mesh, Bypass: bypass}
	if err != nil {
		return out, fmt.Errorf("interleaving %s and %s: %w", job.Mesh.Target, job.Bypass.Target, err)
	}
	return out, nil
}

// RunLoadFile is the load helper: it reads a LoadJob from jobPath, runs it
// and writes the LoadOutcome as JSON to outPath ("-" for stdout; the datapath
// keeps only the last few KiB of a helper's output, so the agent passes a
// file).
func RunLoadFile(ctx context.Context, jobPath, outPath string, stdout io.Writer) error {
	data, err := os.ReadFile(jobPath)
	if err != nil {
		return fmt.Errorf("reading load job: %w", err)
	}
	var job LoadJob
	if err := json.Unmarshal(data, &job); err != nil {
		return fmt.Errorf("decoding load job %q: %w", jobPath, err)
	}
	out, runErr := RunLoad(ctx, job)
	enc, err := json.Marshal(out)
	if err != nil {
		return errors.Join(runErr, fmt.Errorf("encoding load outcome: %w", err))
	}
	if outPath == "" || outPath == "-" {
		_, err = fmt.Fprintf(stdout, "%s\n", enc)
	} else {
		err = os.WriteFile(outPath, enc, 0o600)
	}
	if err != nil {
		return errors.Join(runErr, fmt.Errorf("writing load outcome: %w", err))
	}
	return runErr
}

// RunHelper runs the serve or load helper subcommand from argv-style args
// (flags as ServeArgv and LoadArgv write them), for programs other than
// cmd/meshinsight-agent that re-execute themselves as the agent's helper,
// such as test binaries.
func RunHelper(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("no helper subcommand")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	switch args[0] {
	case ServeCommand:
		protocol := fs.String(FlagProtocol, "", "")
		listen := fs.String(FlagListen, "", "")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return Serve(ctx, *protocol, *listen)
	case LoadServerCommand:
		listen := fs.String(FlagListen, "", "")
		token := fs.String(FlagTokenFile, "", "")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return ServeLoad(ctx, *listen, *token)
	case LoadCommand:
		job := fs.String(FlagJob, "", "")
		out := fs.String(FlagOut, "-", "")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return RunLoadFile(ctx, *job, *out, os.Stdout)
	}
	return fmt.Errorf("unknown helper subcommand %q", args[0])
}
