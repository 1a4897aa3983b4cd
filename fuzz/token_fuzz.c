/*
 * token_fuzz.c
 *		libFuzzer harness for the pure token code (src/token.c): parsing,
 *		base64url and signature verification, on arbitrary bytes.
 *
 * Besides "no crash, no sanitizer report", it checks the properties the
 * extension relies on:
 *	- whatever parses re-encodes to exactly the input (one spelling per
 *	  token), whatever base64url-decodes re-encodes to the input, and
 *	  whatever is encoded decodes back to the same bytes;
 *	- a token signed with a key verifies with that key, and fails with a
 *	  key that differs in one bit; signing again with the first key, after
 *	  the other, gives the same token (the key's pad states are reused);
 *	- signatures and id hashes equal OpenSSL's own HMAC() and SHA-256
 *	  (token.c builds HMAC on the SHA-256 block functions itself);
 *	- a token's route is the first byte of its id's hash, whatever does
 *	  not parse routes to 0, and an id made for shard k of N routes to k.
 *
 * Built with -DFRONTEND against libpgcommon/libpgport: see fuzz/run.
 */
#include "postgres_fe.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

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
	SessionKeyState state;
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
		check(session_token_key_init(&state, key) == TOKEN_OK, "key setup failed");
		(void) session_token_verify(&tok, &state);
	}
	else
		check(session_token_route((const char *) data, size) == 0,
			  "a malformed token routes elsewhere than 0");

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
	/* a handle: one spelling per stored hash, and back */
	{
		uint8		hash[SESSION_HASH_BYTES];
		char		handle[SESSION_HANDLE_CHARS];

		if (session_handle_decode((const char *) data, size, hash))
		{
			check(size == SESSION_HANDLE_CHARS, "a handle of another length decodes");
			session_handle_encode(hash, handle);
			check(memcmp(handle, data, size) == 0, "a handle has a second spelling");
		}
	}
	if (size <= sizeof(buf))
	{
		uint8		back[64];

		base64url_encode(data, size, enc);
		check(base64url_decode(enc, base64url_encoded_len(size), back, size) &&
			  memcmp(back, data, size) == 0, "base64url does not decode its own encoding");
	}

	/*
	 * The constant-time compare agrees with memcmp: the input's two halves,
	 * and the first half against itself with each byte changed in turn (it
	 * works eight bytes at a time, then byte by byte).
	 */
	{
		size_t		half = size / 2;
		uint8		same[64];
		size_t		i;

		check(session_ct_equal(data, data + half, half) ==
			  (memcmp(data, data + half, half) == 0),
			  "ct_equal disagrees with memcmp");
		if (half <= sizeof(same))
		{
			memcpy(same, data, half);
			check(session_ct_equal(data, same, half), "ct_equal: a buffer differs from its copy");
			for (i = 0; i < half; i++)
			{
				same[i] ^= (uint8) (1 << (i % 8));
				check(!session_ct_equal(data, same, half), "ct_equal missed a changed byte");
				same[i] ^= (uint8) (1 << (i % 8));
			}
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
		check(session_token_key_init(&state, key) == TOKEN_OK, "key setup failed");
		check(session_token_sign(id, &state, token) == TOKEN_OK, "signing failed");
		check(session_token_parse(token, strlen(token), &parsed) == TOKEN_OK,
			  "a signed token does not parse");
		check(session_token_verify(&parsed, &state) == TOKEN_OK,
			  "a signed token does not verify");
		{
			uint8		ref[EVP_MAX_MD_SIZE];
			unsigned int reflen = 0;
			uint8		hash[SESSION_HASH_BYTES];

			check(HMAC(EVP_sha256(), key, SESSION_KEY_BYTES, (const uint8 *) id,
					   SESSION_ID_CHARS, ref, &reflen) != NULL &&
				  reflen == SESSION_SIG_BYTES &&
				  memcmp(ref, parsed.sig, SESSION_SIG_BYTES) == 0,
				  "the signature is not OpenSSL's HMAC-SHA256");
			check(session_token_hash_id(id, hash) == TOKEN_OK &&
				  EVP_Digest(id, SESSION_ID_CHARS, ref, &reflen, EVP_sha256(), NULL) &&
				  memcmp(ref, hash, SESSION_HASH_BYTES) == 0,
				  "the id hash is not OpenSSL's SHA-256");
			check(session_token_route(token, SESSION_TOKEN_CHARS) == hash[0],
				  "a token's route is not its id hash's first byte");
		}
		{
			/* a shard count and number from the input */
			int			shards = 1 << (data[0] % 9);
			int			shard = data[1] & (shards - 1);
			char		made[SESSION_ID_CHARS];
			uint8		hash[SESSION_HASH_BYTES];
			uint8		again[SESSION_HASH_BYTES];

			check(session_token_generate_id(made, hash, shards, shard) == TOKEN_OK,
				  "no id made for a shard");
			check((hash[0] & (shards - 1)) == shard,
				  "an id made for a shard routes elsewhere");
			check(session_token_hash_id(made, again) == TOKEN_OK &&
				  memcmp(again, hash, SESSION_HASH_BYTES) == 0,
				  "a made id's hash is not the hash of the id");
		}
		{
			SessionKeyState neighbour;

			key[size % SESSION_KEY_BYTES] ^= (uint8) (1 << (size % 8));
			check(session_token_key_init(&neighbour, key) == TOKEN_OK, "key setup failed");
			check(session_token_verify(&parsed, &neighbour) == TOKEN_BAD_SIGNATURE,
				  "a token verifies with another key");
			key[size % SESSION_KEY_BYTES] ^= (uint8) (1 << (size % 8));
			/* the first key's state is unchanged by making another */
			check(session_token_verify(&parsed, &state) == TOKEN_OK,
				  "a key's state changed when another key was set up");
			session_token_key_wipe(&neighbour);
		}
		{
			char		again[SESSION_TOKEN_CHARS + 1];

			check(session_token_sign(id, &state, again) == TOKEN_OK &&
				  strcmp(again, token) == 0,
				  "signing again with the first key gives another token");
		}
	}
	return 0;
}
