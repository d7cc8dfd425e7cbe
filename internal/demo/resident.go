package demo

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"time"
	"unicode/utf8"

	"github.com/healthcode/healthcode"
)

// birthDays is the number of birth days national id numbers draw from:
// 1940-01-01 to 2019-12-31. birthSpace counts (birth day, sequence 001–999)
// pairs; the residents of one county map injectively into it, so national
// id numbers are unique as long as a county holds at most birthSpace
// residents (MaxResidents over at least six counties stays well below).
const (
	birthDays  = 29220
	birthSpace = birthDays * 999
)

var birthEpoch = time.Date(1940, time.January, 1, 0, 0, 0, 0, time.UTC)

// phoneSpace counts the mobile numbers residents draw from; each index maps
// to a distinct number.
func phoneSpace() uint64 { return uint64(len(mobilePrefixes)) * 100_000_000 }

// Resident returns the i-th resident and their fake national id number. It
// needs no other resident, so residents can be produced in any order, in
// parallel, or from any i onwards. idHash, if not nil, computes IDHash from
// the national id number (the store's HMAC); with nil, IDHash is left empty.
//
// Residents are spread evenly over the counties, and within a county over
// its communities. The id (r_ and 16 base32 characters), the phone number
// and the national id number are unique over all residents. Resident panics
// unless 0 <= i < p.Residents().
func (p *Province) Resident(i int, idHash func(nationalID string) []byte) (healthcode.Resident, string) {
	if i < 0 || i >= p.residents {
		panic(fmt.Sprintf("demo: resident index %d out of range [0, %d)", i, p.residents))
	}
	var src rand.PCG
	src.Seed(p.pcgKey, mix64(uint64(i)))

	c := &p.counties[i%len(p.counties)]
	j := i / len(p.counties) // index within the county
	u := (p.birthA*uint64(j) + p.birthB + c.birthOffset) % birthSpace
	day, seq := u/999, u%999+1
	nid := nationalID(c.code, day, seq)

	r := healthcode.Resident{
		ID:           "r_" + encode80(src.Uint64(), p.permute(uint64(i))),
		Name:         personName(src.Uint64(), src.Uint64(), seq%2 == 1), // odd sequence: male
		Phone:        p.phone(uint64(i)),
		Jurisdiction: c.communities[j%len(c.communities)],
		CreatedAt:    baseTime.Add(24*time.Hour + time.Duration(src.Uint64()%(90*24*3600))*time.Second),
		IDMasked:     healthcode.MaskNationalID(nid),
	}
	if idHash != nil {
		r.IDHash = idHash(nid)
	}
	return r, nid
}

// permute is a bijection of uint64 keyed by the province, so distinct
// indexes give distinct resident ids.
func (p *Province) permute(x uint64) uint64 {
	return mix64(mix64(x^p.idKey[0]) ^ p.idKey[1])
}

// phone returns the distinct mobile number of index i.
func (p *Province) phone(i uint64) string {
	v := (p.phoneA*i + p.phoneB) % phoneSpace()
	var b [11]byte
	copy(b[:3], mobilePrefixes[v/100_000_000])
	putDigits(b[3:], v%100_000_000)
	return string(b[:])
}

// nationalID returns an 18-digit GB 11643 citizen identity number: the
// county's region code, the birth date, a three-digit sequence (odd for
// men) and the check character.
func nationalID(region string, day, seq uint64) string {
	var b [18]byte
	copy(b[:6], region)
	y, m, d := birthEpoch.AddDate(0, 0, int(day)).Date()
	putDigits(b[6:10], uint64(y))
	putDigits(b[10:12], uint64(m))
	putDigits(b[12:14], uint64(d))
	putDigits(b[14:17], seq)
	b[17] = checkDigit(b[:17])
	return string(b[:])
}

// checkDigit returns the GB 11643 check character of the first 17 digits of
// an identity number: ISO 7064 MOD 11-2.
func checkDigit(digits []byte) byte {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for k, w := range weights {
		sum += int(digits[k]-'0') * w
	}
	return "10X98765432"[sum%11]
}

// personName builds a Chinese name from random bits: a surname by
// frequency and one or two given-name characters.
func personName(x1, x2 uint64, male bool) string {
	chars := femaleChars
	if male {
		chars = maleChars
	}
	var b [16]byte
	n := copy(b[:], surnameTable[bounded(x1, len(surnameTable))])
	n += utf8.EncodeRune(b[n:], chars[bounded(x2, len(chars))])
	if x1&3 != 0 { // three in four names have two given characters
		n += utf8.EncodeRune(b[n:], chars[bounded(x2<<32|x2>>32, len(chars))])
	}
	return string(b[:n])
}

// bounded maps x uniformly enough onto [0, n).
func bounded(x uint64, n int) int {
	hi, _ := bits.Mul64(x, uint64(n))
	return int(hi)
}

// putDigits writes v as len(b) decimal digits, zero-padded.
func putDigits(b []byte, v uint64) {
	for k := len(b) - 1; k >= 0; k-- {
		b[k] = byte('0' + v%10)
		v /= 10
	}
}

const base32Lower = "abcdefghijklmnopqrstuvwxyz234567"

// encode80 encodes the 80-bit number lo<<16 | (hi & 0xffff) as 16
// lower-case base32 characters, so distinct lo give distinct strings.
func encode80(hi, lo uint64) string {
	vh, vl := lo>>48, lo<<16|hi&0xffff // the 80-bit number as two words
	var b [16]byte
	for k := 15; k >= 0; k-- {
		b[k] = base32Lower[vl&31]
		vl = vl>>5 | vh<<59
		vh >>= 5
	}
	return string(b[:])
}

// mix64 is the SplitMix64 finaliser, a bijection of uint64.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
