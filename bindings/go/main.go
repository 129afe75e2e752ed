// The Go (cgo) use of mmapkit from docs/ffi.md, as a program CTest builds and runs
// (tests/bindings_test.sh compares its output with expected.txt).
package main

/*
#cgo pkg-config: mmapkit
#include <stdlib.h>
#include <mmapkit.h>

// errmsg is per thread: a failing call and its message in one cgo call.
static int anon_shared_or_msg(mmapkit_map **m, size_t len, unsigned flags, const char **msg)
{
	int err = mmapkit_anon_shared(m, len, flags);
	*msg = err < 0 ? mmapkit_errmsg() : "";
	return err;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

func fail(what string, err C.int) {
	fmt.Printf("FAIL %s: %v: %s\n", what, syscall.Errno(-err), C.GoString(C.mmapkit_errmsg()))
	os.Exit(1)
}

func main() {
	runtime.LockOSThread() // mmapkit_errmsg() is per thread: stay on this one
	defer runtime.UnlockOSThread()

	var m *C.mmapkit_map
	if err := C.mmapkit_anon_shared(&m, 4096, C.MMAPKIT_DONTFORK); err < 0 {
		fail("mmapkit_anon_shared", err)
	}
	b := unsafe.Slice((*byte)(C.mmapkit_ptr(m)), C.mmapkit_len(m))
	copy(b, "hello")
	fmt.Printf("anon shared: %d bytes, kind %d, %q\n", len(b), C.mmapkit_kind(m), string(b[:5]))
	C.mmapkit_unmap(m)

	// An error as Go sees it: a syscall.Errno, and the library's words.
	var msg *C.char
	err := C.anon_shared_or_msg(&m, 0, 0, &msg)
	e := syscall.Errno(-err)
	fmt.Printf("len 0: %v (EINVAL: %v), handle nil: %v\n", e, errors.Is(e, syscall.EINVAL), m == nil)
	fmt.Printf("message: %s\n", C.GoString(msg))

	// A file, written through the mapping, synced, read back with read(2).
	path := C.CString(os.Args[1])
	defer C.free(unsafe.Pointer(path))
	if err := C.mmapkit_file_shared(&m, path, 0, 8192, C.MMAPKIT_CREATE|C.MMAPKIT_GROW); err < 0 {
		fail("mmapkit_file_shared", err)
	}
	b = unsafe.Slice((*byte)(C.mmapkit_ptr(m)), C.mmapkit_len(m))
	copy(b[4096:], "from go")
	if err := C.mmapkit_sync(m, 4096, C.MMAPKIT_TO_END, C.MMAPKIT_SYNC_FULL); err < 0 {
		fail("mmapkit_sync", err)
	}
	C.mmapkit_unmap(m)
	data, rerr := os.ReadFile(os.Args[1])
	if rerr != nil {
		fmt.Println("FAIL read:", rerr)
		os.Exit(1)
	}
	fmt.Printf("file: %d bytes, %q at 4096\n", len(data), string(data[4096:4103]))
}
