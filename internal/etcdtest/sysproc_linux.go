package etcdtest

import "syscall"

// sysProcAttr makes the kernel kill an etcd member if the test process dies without running its cleanups
// (a panic or a timeout), so no orphaned etcd keeps its ports and data directory.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
