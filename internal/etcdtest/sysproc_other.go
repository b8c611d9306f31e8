//go:build !linux

package etcdtest

import "syscall"

// sysProcAttr returns nil: outside Linux there is no parent-death signal, so members are stopped only by the
// test's cleanup.
func sysProcAttr() *syscall.SysProcAttr { return nil }
