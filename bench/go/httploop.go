// The Go HTTP client loop of bench/strict.bench.mjs: a pure-Go program (CGO_ENABLED=0: Go's own system
// calls, the kind only strict mode sees).
//
//	httploop serve ADDR            serves "ok" over HTTP/1.1 on ADDR (port 0: any); prints the port
//	httploop get URL N keepalive|new
//	    N GETs of URL, over one kept-alive connection or a fresh connection each; prints
//	    "<wall ns per GET> <CPU ns per GET of this process> <CPU ns per GET of its parent, or -1>"
//	    (the parent's CPU is the supervisor's under tethered-strict, read from /proc)
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func cpuSelf() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// utime+stime of a process from /proc/PID/stat, in ns (-1 when unreadable).
func cpuOf(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return (u + st) * int64(time.Second) / 100 // USER_HZ
}

func parentIsSupervisor() bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", os.Getppid()))
	return err == nil && strings.HasPrefix(string(b), "tethered-strict")
}

func main() {
	switch os.Args[1] {
	case "serve":
		l, err := net.Listen("tcp", os.Args[2])
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
		http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	case "get":
		n, _ := strconv.Atoi(os.Args[3])
		tr := &http.Transport{DisableKeepAlives: os.Args[4] == "new", MaxIdleConnsPerHost: 1}
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		get := func() {
			r, err := client.Get(os.Args[2])
			if err != nil {
				fmt.Fprintln(os.Stderr, "httploop:", err)
				os.Exit(1)
			}
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
		get() // the first connection and the runtime's warm-up are not measured
		parent := -1
		if parentIsSupervisor() {
			parent = os.Getppid()
		}
		p0, c0, t0 := int64(-1), cpuSelf(), time.Now()
		if parent > 0 {
			p0 = cpuOf(parent)
		}
		for i := 0; i < n; i++ {
			get()
		}
		wall := time.Since(t0).Nanoseconds()
		c1 := cpuSelf()
		pcpu := int64(-1)
		if parent > 0 {
			pcpu = (cpuOf(parent) - p0) / int64(n)
		}
		fmt.Println(wall/int64(n), (c1-c0)/int64(n), pcpu)
	}
}
