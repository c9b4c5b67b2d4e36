package ui

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clipformer/clipformer/internal/certs"
)

// A dashboard token is signed with the private key of a cluster
// certificate and carries that certificate: the dashboard checks the
// certificate against the cluster CA and takes the role and name from it,
// exactly as the coordinator does for a gRPC call. No secret is shared
// between the dashboard and whoever issues tokens, and a token dies with
// its certificate or at its own expiry, whichever is first.
//
// Form: "cfui1.CERT.CLAIMS.SIG", each part base64url without padding; CERT
// is the certificate's DER, CLAIMS a JSON object {"iat":..., "exp":...}
// (unix seconds), SIG the key's signature of SHA-256(tokenContext + "." +
// CERT + "." + CLAIMS).
const (
	tokenPrefix  = "cfui1"
	tokenContext = "clipformer dashboard token v1"
	// MaxTokenLife bounds what a token may claim.
	MaxTokenLife = 30 * 24 * time.Hour
	// maxTokenBytes refuses a huge header or cookie before any parsing.
	maxTokenBytes = 8 << 10
)

// ErrToken marks a token that is refused.
var ErrToken = errors.New("ui: token refused")

type tokenClaims struct {
	IssuedAt  int64 `json:"iat"`
	ExpiresAt int64 `json:"exp"`
}

var b64 = base64.RawURLEncoding

// IssueToken signs a dashboard token for the identity of cert, whose
// private key is key, valid for life from now. Only client and admin
// certificates may have one.
func IssueToken(cert *x509.Certificate, key crypto.Signer, life time.Duration, now time.Time) (string, error) {
	role, name, err := certs.IdentityOf(cert)
	if err != nil {
		return "", err
	}
	if role != RoleClient && role != RoleAdmin {
		return "", fmt.Errorf("ui: certificate %q has role %s; a dashboard token needs a client or admin certificate", name, role)
	}
	if life <= 0 || life > MaxTokenLife {
		return "", fmt.Errorf("ui: token life %s: want more than 0 and at most %s", life, MaxTokenLife)
	}
	claims, err := json.Marshal(tokenClaims{IssuedAt: now.Unix(), ExpiresAt: now.Add(life).Unix()})
	if err != nil {
		return "", err
	}
	body := b64.EncodeToString(cert.Raw) + "." + b64.EncodeToString(claims)
	sig, err := signToken(key, body)
	if err != nil {
		return "", fmt.Errorf("ui: sign token: %w", err)
	}
	return tokenPrefix + "." + body + "." + b64.EncodeToString(sig), nil
}

func tokenDigest(body string) []byte {
	h := sha256.Sum256([]byte(tokenContext + "." + body))
	return h[:]
}

func signToken(key crypto.Signer, body string) ([]byte, error) {
	if _, ok := key.(ed25519.PrivateKey); ok {
		return key.Sign(rand.Reader, tokenDigest(body), crypto.Hash(0))
	}
	return key.Sign(rand.Reader, tokenDigest(body), crypto.SHA256)
}

// VerifyToken checks a token against the cluster CAs in roots at now and
// returns who it names.
func VerifyToken(token string, roots *x509.CertPool, now time.Time) (Caller, error) {
	if len(token) > maxTokenBytes {
		return Caller{}, fmt.Errorf("%w: %d bytes, over %d", ErrToken, len(token), maxTokenBytes)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 4 || parts[0] != tokenPrefix {
		return Caller{}, fmt.Errorf("%w: not a %s token", ErrToken, tokenPrefix)
	}
	der, err1 := b64.DecodeString(parts[1])
	claimsJSON, err2 := b64.DecodeString(parts[2])
	sig, err3 := b64.DecodeString(parts[3])
	if err := errors.Join(err1, err2, err3); err != nil {
		return Caller{}, fmt.Errorf("%w: %v", ErrToken, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Caller{}, fmt.Errorf("%w: certificate: %v", ErrToken, err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return Caller{}, fmt.Errorf("%w: certificate: %v", ErrToken, err)
	}
	if !verifySignature(cert.PublicKey, parts[1]+"."+parts[2], sig) {
		return Caller{}, fmt.Errorf("%w: bad signature", ErrToken)
	}
	var c tokenClaims
	if err := json.Unmarshal(claimsJSON, &c); err != nil {
		return Caller{}, fmt.Errorf("%w: claims: %v", ErrToken, err)
	}
	switch {
	case c.ExpiresAt-c.IssuedAt > int64(MaxTokenLife/time.Second):
		return Caller{}, fmt.Errorf("%w: it claims a life over %s", ErrToken, MaxTokenLife)
	case now.Unix() >= c.ExpiresAt:
		return Caller{}, fmt.Errorf("%w: expired at %s", ErrToken, time.Unix(c.ExpiresAt, 0).UTC().Format(time.RFC3339))
	case now.Add(time.Minute).Unix() < c.IssuedAt:
		return Caller{}, fmt.Errorf("%w: issued in the future", ErrToken)
	}
	role, name, err := certs.IdentityOf(cert)
	if err != nil {
		return Caller{}, fmt.Errorf("%w: %v", ErrToken, err)
	}
	if role != RoleClient && role != RoleAdmin {
		return Caller{}, fmt.Errorf("%w: role %s may not use the dashboard", ErrToken, role)
	}
	return Caller{Role: role, Name: name}, nil
}

func verifySignature(pub any, body string, sig []byte) bool {
	d := tokenDigest(body)
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, d, sig)
	case ed25519.PublicKey:
		return ed25519.Verify(k, d, sig)
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, d, sig) == nil
	}
	return false
}
