// Command openloop opens and closes a file N times and prints the CPU
// time it used (user + system, ns per iteration): the workload of the
// agent's overhead benchmark.
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	path := "/etc/hostname"
	if len(os.Args) > 2 {
		path = os.Args[2]
	}
	for range n {
		fd, err := syscall.Open(path, syscall.O_RDONLY, 0)
		if err != nil {
			panic(err)
		}
		syscall.Close(fd)
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := ru.Utime.Nano() + ru.Stime.Nano()
	fmt.Println(float64(cpu) / float64(n))
}
