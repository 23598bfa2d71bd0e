package server

import (
	"errors"
	"testing"
)

func TestQueue(t *testing.T) {
	q := newQueue[int](5)
	steps := []struct {
		batch []int
		want  error
	}{
		{[]int{1, 2, 3}, nil},
		{[]int{4, 5, 6}, errFull}, // would make 6 > 5: refused whole
		{[]int{4, 5}, nil},
		{[]int{6}, errFull},
	}
	for i, s := range steps {
		if err := q.put(batch[int]{items: s.batch}); !errors.Is(err, s.want) {
			t.Fatalf("step %d: put = %v, want %v", i, err, s.want)
		}
	}
	if b, _ := q.take(); len(b.items) != 3 || q.len() != 2 {
		t.Fatalf("take = %v, len %d", b, q.len())
	}
	if err := q.put(batch[int]{items: []int{6, 7, 8}}); err != nil {
		t.Fatalf("put after take: %v", err)
	}
	q.close()
	if err := q.put(batch[int]{items: []int{9}}); !errors.Is(err, errClosed) {
		t.Fatalf("put after close = %v, want errClosed", err)
	}
	var got []int
	for {
		b, ok := q.take()
		if !ok {
			break
		}
		got = append(got, b.items...)
	}
	if len(got) != 5 || q.len() != 0 {
		t.Errorf("drained %v, len %d", got, q.len())
	}
}
