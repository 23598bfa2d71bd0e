package fields

import (
	"net/netip"
	"strconv"
)

// ParseInt reads a literal compared with a numeric field: an integer in
// decimal, hex (0x) or octal (0), signed, or unsigned up to 2^64-1 (kept
// as the int64 with the same bits). The loader checks literals with it
// and the engine compiles them with it.
func ParseInt(v string) (int64, error) {
	if n, err := strconv.ParseInt(v, 0, 64); err == nil {
		return n, nil
	}
	u, err := strconv.ParseUint(v, 0, 64)
	return int64(u), err
}

// ParseNet reads a literal compared with an address field: an address
// (the network of that one address) or a network in CIDR form.
func ParseNet(v string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(v); err == nil {
		return p, nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
