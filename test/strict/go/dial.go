// A pure-Go program (CGO_ENABLED=0: no libc, Go's own raw system calls): dials ADDR (host:port, where host
// is an address or a name that Go's own resolver looks up in /etc/hosts or over DNS), sends MARKER, prints
// "ok <answer>" or "error EACCES" / "error lookup" (the name did not resolve) / "error <message>".
package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

func main() {
	conn, err := net.DialTimeout("tcp", os.Args[1], 5*time.Second)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.Is(err, syscall.EACCES) {
			fmt.Println("error EACCES")
		} else if errors.As(err, &dnsErr) {
			fmt.Println("error lookup")
		} else {
			fmt.Println("error", err)
		}
		return
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s\n", os.Args[2])
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		fmt.Println("error", err)
		return
	}
	fmt.Printf("ok %s", line)
}
