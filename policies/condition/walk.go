package condition

// Walk calls fn for e and, depth first, for the nodes below every node
// for which fn returns true.
func Walk(e Expr, fn func(Expr) bool) {
	if e == nil || !fn(e) {
		return
	}
	switch n := e.(type) {
	case *And:
		for _, c := range n.Children {
			Walk(c, fn)
		}
	case *Or:
		for _, c := range n.Children {
			Walk(c, fn)
		}
	case *Not:
		Walk(n.Child, fn)
	case *UnaryCheck:
		Walk(n.Left, fn)
	case *BinaryCheck:
		Walk(n.Left, fn)
		Walk(n.Right, fn)
	case *Transformer:
		for _, a := range n.Args {
			Walk(a, fn)
		}
	case *TransformerList:
		for _, a := range n.Items {
			Walk(a, fn)
		}
	}
}
