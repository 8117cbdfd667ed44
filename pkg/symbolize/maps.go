package symbolize

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Mapping is one line of /proc/PID/maps.
type Mapping struct {
	// Start and End delimit the mapping's addresses, End excluded.
	Start, End uint64
	// Perms is the permission string, e.g. "r-xp".
	Perms string
	// Offset is the file offset the mapping starts at.
	Offset uint64
	// Major and Minor are the device holding the file; Inode is its inode.
	Major, Minor uint32
	Inode        uint64
	// Path is the file name as the target process sees it, a pseudo name such
	// as "[vdso]" or "[heap]", or "" for anonymous memory. A " (deleted)"
	// suffix is stripped into Deleted.
	Path    string
	Deleted bool
}

// Executable reports whether the mapping holds code.
func (m Mapping) Executable() bool { return strings.Contains(m.Perms, "x") }

// File reports whether the mapping is backed by a regular file.
func (m Mapping) File() bool { return m.Inode != 0 && strings.HasPrefix(m.Path, "/") }

// ParseMaps parses the text of /proc/PID/maps. A line that does not have the
// kernel's layout is an error naming the line: misreading one would attribute
// addresses to the wrong file.
func ParseMaps(r io.Reader) ([]Mapping, error) {
	var maps []Mapping
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.TrimSpace(text) == "" {
			continue
		}
		m, err := parseMapsLine(text)
		if err != nil {
			return nil, fmt.Errorf("parsing maps line %d %q: %w", line, text, err)
		}
		maps = append(maps, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading maps: %w", err)
	}
	return maps, nil
}

// parseMapsLine parses "start-end perms offset major:minor inode [path]".
// The path is everything after the inode with leading spaces removed, so
// names containing spaces survive.
func parseMapsLine(s string) (Mapping, error) {
	var m Mapping
	rest := s
	field := func() (string, error) {
		rest = strings.TrimLeft(rest, " \t")
		if rest == "" {
			return "", fmt.Errorf("too few fields")
		}
		i := strings.IndexAny(rest, " \t")
		if i < 0 {
			f := rest
			rest = ""
			return f, nil
		}
		f := rest[:i]
		rest = rest[i:]
		return f, nil
	}
	// pair reads a field of two parts joined by sep; what names it in errors.
	pair := func(what, sep string) (string, string, error) {
		f, err := field()
		if err != nil {
			return "", "", err
		}
		a, b, ok := strings.Cut(f, sep)
		if !ok {
			return "", "", fmt.Errorf("%s %q has no '%s'", what, f, sep)
		}
		return a, b, nil
	}
	lo, hi, err := pair("address range", "-")
	if err != nil {
		return m, err
	}
	if m.Start, err = strconv.ParseUint(lo, 16, 64); err != nil {
		return m, fmt.Errorf("start address: %w", err)
	}
	if m.End, err = strconv.ParseUint(hi, 16, 64); err != nil {
		return m, fmt.Errorf("end address: %w", err)
	}
	if m.End < m.Start {
		return m, fmt.Errorf("end address %#x below start %#x", m.End, m.Start)
	}
	if m.Perms, err = field(); err != nil {
		return m, err
	}
	if len(m.Perms) != 4 {
		return m, fmt.Errorf("permissions %q are not 4 characters", m.Perms)
	}
	off, err := field()
	if err != nil {
		return m, err
	}
	if m.Offset, err = strconv.ParseUint(off, 16, 64); err != nil {
		return m, fmt.Errorf("offset: %w", err)
	}
	maj, mnr, err := pair("device", ":")
	if err != nil {
		return m, err
	}
	v, err := strconv.ParseUint(maj, 16, 32)
	if err != nil {
		return m, fmt.Errorf("device major: %w", err)
	}
	m.Major = uint32(v)
	if v, err = strconv.ParseUint(mnr, 16, 32); err != nil {
		return m, fmt.Errorf("device minor: %w", err)
	}
	m.Minor = uint32(v)
	ino, err := field()
	if err != nil {
		return m, err
	}
	if m.Inode, err = strconv.ParseUint(ino, 10, 64); err != nil {
		return m, fmt.Errorf("inode: %w", err)
	}
	m.Path = strings.TrimLeft(rest, " \t")
	if p, ok := strings.CutSuffix(m.Path, " (deleted)"); ok && m.Inode != 0 {
		m.Path, m.Deleted = p, true
	}
	return m, nil
}
