// Package selftest checks a live installation end to end, as an operator
// would: in a throwaway namespace it triggers one harmless rule of each
// source (an admission warning, an audit rule, a syscall rule in a pod
// through kubectl exec), waits for each alert to come back through the
// service's output, and reports what it saw and how long it took. It
// deletes what it created.
package selftest
