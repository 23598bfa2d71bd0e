// Package output owns alerts once rules have matched: the Alert in Falco's
// JSON and text forms, and the sinks operators send them to (stdout, file,
// syslog, HTTP, a program). Each sink has its own bounded queue and
// goroutine, so a slow or broken sink never blocks the engine or the other
// sinks; what a full queue refuses is counted, never silently lost.
package output
