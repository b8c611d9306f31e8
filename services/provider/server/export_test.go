package server_test

import "runtime"

func runtimeGosched() { runtime.Gosched() }
