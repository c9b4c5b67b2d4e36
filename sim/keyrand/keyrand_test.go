package keyrand

import "testing"

func TestSameKeySameBits(t *testing.T) {
	k := Key{Seed: 7, Trial: 1, Image: 42, Layer: 3, Head: 2, Kind: WriteK}
	a, b := New(k), New(k)
	for i := 0; i < 1000; i++ {
		if x, y := a.Norm(), b.Norm(); x != y {
			t.Fatalf("draw %d: got %v and %v from the same key", i, x, y)
		}
	}
	a.Reset(k)
	c := New(k)
	if x, y := a.Norm(), c.Norm(); x != y {
		t.Fatalf("after Reset: got %v, want %v", x, y)
	}
}

func TestEveryKeyFieldChangesTheStream(t *testing.T) {
	base := Key{Seed: 7, Trial: 1, Image: 42, Layer: 3, Head: 2, Sub: 0, Kind: WriteK}
	variants := []Key{base, base, base, base, base, base, base}
	variants[0].Seed++
	variants[1].Trial++
	variants[2].Image++
	variants[3].Layer++
	variants[4].Head++
	variants[5].Sub++
	variants[6].Kind = WriteV
	want := New(base).Norm()
	for i, k := range variants {
		if got := New(k).Norm(); got == want {
			t.Errorf("variant %d (%+v) gives the base key's first draw %v", i, k, got)
		}
	}
}
