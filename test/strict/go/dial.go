// A pure-Go program (CGO_ENABLED=0: no libc, Go's own raw system calls): dials ADDR (host:port), sends
// MARKER, prints "ok <answer>" or "error EACCES" / "error <message>".
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
		if errors.Is(err, syscall.EACCES) {
			fmt.Println("error EACCES")
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
