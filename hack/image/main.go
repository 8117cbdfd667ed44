// Command image builds the meshinsight-agent container image without Docker:
// an image index for linux/amd64 and linux/arm64, each image the static agent
// binary on no base, written as an OCI layout (and optionally its tar archive)
// and optionally pushed. `make image` runs it.
//
//	go run -ldflags "$(LDFLAGS)" ./hack/image \
//	  -binary linux/amd64=bin/linux_amd64/meshinsight-agent \
//	  -binary linux/arm64=bin/linux_arm64/meshinsight-agent \
//	  -o bin/image [-tar bin/meshinsight-agent.tar] [-push ghcr.io/meshinsight/meshinsight-agent] \
//	  [-digest-file bin/image.digest]
//
// The tag is the version linked into this program (pkg/version.Version, as
// for the plugin and the agent), so the plugin's default agent image
// (version.AgentImageRef) is the one a release pushes; a release also pins
// it by the digest -digest-file writes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/meshinsight/kubectl-meshinsight/pkg/version"
)

const source = "https://github.com/meshinsight/kubectl-meshinsight"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

// run parses args, builds the image and writes or pushes it; out gets one
// line per result.
func run(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.SetOutput(errOut)
	s := spec{Binaries: map[string]string{}, Source: source}
	fs.Func("binary", "PLATFORM=PATH of a static agent binary, repeated (default linux/amd64 and linux/arm64 from bin/linux_ARCH/meshinsight-agent)", func(v string) error {
		p, path, ok := strings.Cut(v, "=")
		if !ok || p == "" || path == "" {
			return fmt.Errorf("want PLATFORM=PATH, e.g. linux/arm64=bin/linux_arm64/meshinsight-agent")
		}
		s.Binaries[p] = path
		return nil
	})
	fs.StringVar(&s.Version, "version", version.Version, "image tag and org.opencontainers.image.version")
	fs.StringVar(&s.Revision, "revision", version.Commit, "git commit, for org.opencontainers.image.revision")
	repo := fs.String("repo", version.AgentRepository, "repository that names the image in the layout (for docker load)")
	dir := fs.String("o", "bin/image", "OCI layout directory to write")
	tarFile := fs.String("tar", "", "also write the layout as this tar archive (docker load, podman load)")
	pushTo := fs.String("push", "", "push to this repository, tagged with -version, or to repository:tag")
	digestFile := fs.String("digest-file", "", "write the image index's digest (sha256:…) to this file, for the plugin's -X pkg/version.AgentDigest")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: see -h", fs.Args())
	}
	if len(s.Binaries) == 0 {
		for _, arch := range []string{"amd64", "arm64"} {
			s.Binaries["linux/"+arch] = "bin/linux_" + arch + "/meshinsight-agent"
		}
	}
	created, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	s.Created = created

	var ref *name.Tag
	if *pushTo != "" {
		// Resolved before building, so that a bad reference fails fast.
		tag, err := pushRef(*pushTo, s.Version)
		if err != nil {
			return err
		}
		ref = &tag
	}
	idx, err := buildIndex(s)
	if err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return fmt.Errorf("hashing the image index: %w", err)
	}
	if err := writeLayout(*dir, idx, *repo, s.Version); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s:%s@%s to %s\n", *repo, s.Version, digest, *dir)
	if *digestFile != "" {
		if err := os.WriteFile(*digestFile, []byte(digest.String()+"\n"), 0o644); err != nil {
			return fmt.Errorf("writing the digest: %w", err)
		}
	}
	if *tarFile != "" {
		if err := writeTar(*dir, *tarFile, s.Created); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote %s\n", *tarFile)
	}
	if ref != nil {
		if err := push(ctx, idx, *ref); err != nil {
			return err
		}
		fmt.Fprintf(out, "pushed %s@%s\n", ref, digest)
	}
	return nil
}

// sourceDateEpoch is the build time: $SOURCE_DATE_EPOCH when set
// (reproducible-builds.org), otherwise the Unix epoch, so that a rebuild of
// the same binaries gives the same digest.
func sourceDateEpoch() (time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: want seconds since 1970: %w", v, err)
	}
	return time.Unix(sec, 0).UTC(), nil
}
