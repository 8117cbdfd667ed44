package probe

// The BPF objects are compiled with Debian bookworm's clang-14 and committed;
// hack/check-generate.sh verifies they match the C sources. -target bpfel
// gives one object for every little-endian GOARCH (the programs use no
// architecture-specific registers). -tags linux keeps the generated loaders
// out of non-Linux builds.

//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -target bpfel -tags linux -go-package probe -cflags "-O2 -g -Wall -Werror -I../../bpf/headers" sched ../../bpf/sched.bpf.c
//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -target bpfel -tags linux -go-package probe -cflags "-O2 -g -Wall -Werror -I../../bpf/headers" stacks ../../bpf/stacks.bpf.c
//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -target bpfel -tags linux -go-package probe -cflags "-O2 -g -Wall -Werror -I../../bpf/headers" sock ../../bpf/sock.bpf.c
