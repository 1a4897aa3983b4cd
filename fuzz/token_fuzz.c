/*
 * token_fuzz.c
 *		libFuzzer harness for the pure token code (src/token.c): parsing,
 *		base64url and signature verification, on arbitrary bytes.
 *
 * Besides "no crash, no sanitizer report", it checks the properties the
 * extension relies on:
 *	- whatever parses re-encodes to exactly the input (one spelling per
 *	  token), and whatever base64url-decodes re-encodes to the input;
 *	- a token signed with a key verifies with that key, and fails with a
 *	  key that differs in one bit.
 *
 * Built with -DFRONTEND against libpgcommon/libpgport: see fuzz/run.
 */
#include "postgres_fe.h"

#include "token.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(bool cond, const char *what)
{
	if (!cond)
	{
		fprintf(stderr, "property violated: %s\n", what);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	SessionToken tok;
	uint8		key[SESSION_KEY_BYTES];
	uint8		buf[64];
	char		enc[128];
	size_t		n;

	/* a fixed key, and a neighbour one bit away */
	memset(key, 0x5a, sizeof(key));

	/* parsing arbitrary bytes */
	if (session_token_parse((const char *) data, size, &tok) == TOKEN_OK)
	{
		char		again[SESSION_TOKEN_CHARS];

		check(size == SESSION_TOKEN_CHARS, "parsed a token of the wrong length");
		memcpy(again, tok.id, SESSION_ID_CHARS);
		again[SESSION_ID_CHARS] = '.';
		base64url_encode(tok.sig, SESSION_SIG_BYTES, again + SESSION_ID_CHARS + 1);
		check(memcmp(again, data, SESSION_TOKEN_CHARS) == 0,
			  "a parsed token has a second spelling");
		(void) session_token_verify(&tok, key);
	}

	/* base64url: decode whatever length fits, and re-encode */
	for (n = 0; n <= sizeof(buf); n++)
	{
		if (base64url_encoded_len(n) != size)
			continue;
		if (base64url_decode((const char *) data, size, buf, n))
		{
			base64url_encode(buf, n, enc);
			check(memcmp(enc, data, size) == 0, "base64url decode is not canonical");
		}
	}

	/* sign an id derived from the input, then verify */
	if (size >= SESSION_ID_BYTES)
	{
		char		id[SESSION_ID_CHARS];
		char		token[SESSION_TOKEN_CHARS + 1];
		SessionToken parsed;

		base64url_encode(data, SESSION_ID_BYTES, id);
		if (size >= SESSION_ID_BYTES + SESSION_KEY_BYTES)
			memcpy(key, data + SESSION_ID_BYTES, SESSION_KEY_BYTES);
		check(session_token_sign(id, key, token) == TOKEN_OK, "signing failed");
		check(session_token_parse(token, strlen(token), &parsed) == TOKEN_OK,
			  "a signed token does not parse");
		check(session_token_verify(&parsed, key) == TOKEN_OK,
			  "a signed token does not verify");
		key[size % SESSION_KEY_BYTES] ^= (uint8) (1 << (size % 8));
		check(session_token_verify(&parsed, key) == TOKEN_BAD_SIGNATURE,
			  "a token verifies with another key");
	}
	return 0;
}
