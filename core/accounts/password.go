package accounts

import (
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
	"github.com/camkit/camkit/sdk/errs"
)

// DefaultPasswordParams follow OWASP's argon2id recommendation (19 MiB, two
// passes, one lane): about 30 ms on one core here, which bounds what a stolen
// hash costs to attack without letting log-ins exhaust a 2-core host.
var DefaultPasswordParams = &argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// TestPasswordParams are deliberately weak, for tests and benchmarks that
// create many users. Never use them in production.
var TestPasswordParams = &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

const (
	MinPasswordLen = 8   // characters
	MaxPasswordLen = 256 // bytes: argon2 takes any length, the cap keeps requests small
)

// CheckPassword is the password policy: length only (NIST SP 800-63B), no
// composition rules.
func CheckPassword(pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return errs.E(errs.Invalid, "the password is not valid UTF-8")
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return errs.E(errs.Invalid, "the password must be at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return errs.E(errs.Invalid, "the password must be at most %d bytes", MaxPasswordLen)
	}
	return nil
}

func (s *Service) hashPassword(pw string) (string, error) {
	h, err := argon2id.CreateHash(pw, s.params)
	if err != nil {
		return "", errs.E(errs.Internal, "accounts: hash password: %v", err)
	}
	return h, nil
}

// verifyPassword reports whether pw matches hash and whether the hash should
// be re-made with the current parameters.
func (s *Service) verifyPassword(pw, hash string) (ok, rehash bool, err error) {
	match, p, err := argon2id.CheckHash(pw, hash)
	if err != nil {
		return false, false, errs.E(errs.Internal, "accounts: stored password hash is unreadable: %v", err)
	}
	return match, match && *p != *s.params, nil
}
