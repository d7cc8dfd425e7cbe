package token

import "fmt"

// Base45 (RFC 9285): two bytes become three characters of the QR
// alphanumeric set, least significant digit first; a final odd byte becomes
// two characters.

const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

var base45Values = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base45Alphabet); i++ {
		t[base45Alphabet[i]] = int8(i)
	}
	return t
}()

func base45Encode(b []byte) string {
	out := make([]byte, 0, len(b)/2*3+2)
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])<<8 | int(b[i+1])
		out = append(out, base45Alphabet[n%45], base45Alphabet[n/45%45], base45Alphabet[n/2025])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		out = append(out, base45Alphabet[n%45], base45Alphabet[n/45])
	}
	return string(out)
}

func base45DecodedLen(n int) int { return n/3*2 + n%3/2 }

// base45Decode appends the decoding of s to dst.
func base45Decode(dst []byte, s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, fmt.Errorf("base45: bad length %d", len(s))
	}
	for i := 0; i < len(s); i += 3 {
		n, w := 0, 1
		end := min(i+3, len(s))
		for j := i; j < end; j++ {
			v := base45Values[s[j]]
			if v < 0 {
				return nil, fmt.Errorf("base45: bad character %q at %d", s[j], j)
			}
			n += int(v) * w
			w *= 45
		}
		if end-i == 3 {
			if n > 0xffff {
				return nil, fmt.Errorf("base45: group at %d out of range", i)
			}
			dst = append(dst, byte(n>>8), byte(n))
		} else {
			if n > 0xff {
				return nil, fmt.Errorf("base45: group at %d out of range", i)
			}
			dst = append(dst, byte(n))
		}
	}
	return dst, nil
}
