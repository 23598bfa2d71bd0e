package engine

// glob matches s against pattern like fnmatch(3) without FNM_PATHNAME:
// '*' matches any run of bytes, '/' included; '?' one byte; '[...]' a
// class ('!' or '^' negates, ranges allowed); '\' quotes the next byte.
// fold makes the match ASCII case-insensitive (iglob).
func glob(pattern, s string, fold bool) bool {
	px, sx := 0, 0
	starP, starS := -1, -1
	for sx < len(s) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				starP, starS = px, sx
				px++
				continue
			case '?':
				px++
				sx++
				continue
			case '[':
				if ok, next, valid := matchClass(pattern, px, s[sx], fold); valid {
					if ok {
						px, sx = next, sx+1
						continue
					}
				} else if eq(c, s[sx], fold) {
					px, sx = px+1, sx+1
					continue
				}
			case '\\':
				if px+1 < len(pattern) && eq(pattern[px+1], s[sx], fold) {
					px, sx = px+2, sx+1
					continue
				}
			default:
				if eq(c, s[sx], fold) {
					px, sx = px+1, sx+1
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		px, sx = starP+1, starS
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}

func eq(a, b byte, fold bool) bool {
	if fold {
		return lowerASCII(a) == lowerASCII(b)
	}
	return a == b
}

// matchClass matches c against the class starting at pattern[i] == '['.
// valid is false when the class is not closed (then '[' is literal).
func matchClass(pattern string, i int, c byte, fold bool) (ok bool, next int, valid bool) {
	j := i + 1
	neg := j < len(pattern) && (pattern[j] == '!' || pattern[j] == '^')
	if neg {
		j++
	}
	first := true
	for j < len(pattern) && (first || pattern[j] != ']') {
		first = false
		lo := pattern[j]
		if lo == '\\' && j+1 < len(pattern) {
			j++
			lo = pattern[j]
		}
		hi := lo
		if j+2 < len(pattern) && pattern[j+1] == '-' && pattern[j+2] != ']' {
			hi = pattern[j+2]
			j += 2
		}
		if fold {
			lc := lowerASCII(c)
			ok = ok || (lowerASCII(lo) <= lc && lc <= lowerASCII(hi)) || (lo <= c && c <= hi)
		} else {
			ok = ok || (lo <= c && c <= hi)
		}
		j++
	}
	if j >= len(pattern) {
		return false, 0, false
	}
	return ok != neg, j + 1, true
}
