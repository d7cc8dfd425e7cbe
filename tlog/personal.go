package tlog

import (
	"crypto/sha256"

	sumtlog "golang.org/x/mod/sumdb/tlog"
)

// personalPrefix separates personal-data commitments from every other
// SHA-256 use in the platform (leaf and node hashes start with 0x00/0x01).
const personalPrefix = "healthcode/log/personal/v1\x00"

// PersonalCommitment returns the commitment an entry's Personal field holds
// for the personal part of the entry:
//
//	SHA-256("healthcode/log/personal/v1" || 0x00 || salt || personal)
//
// The store keeps salt and personal data outside the log, where they may be
// deleted; the leaf keeps only the commitment, so erasure leaves every leaf
// hash valid. The secret salt keeps the commitment from being confirmed by
// guessing the personal data.
func PersonalCommitment(salt [32]byte, personal []byte) sumtlog.Hash {
	h := sha256.New()
	h.Write([]byte(personalPrefix))
	h.Write(salt[:])
	h.Write(personal)
	var out sumtlog.Hash
	h.Sum(out[:0])
	return out
}

// CheckPersonal reports whether salt and personal open the commitment c.
func CheckPersonal(c sumtlog.Hash, salt [32]byte, personal []byte) bool {
	return PersonalCommitment(salt, personal) == c
}
