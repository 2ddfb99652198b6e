from reports.scrub import REDACTED, scrub


def test_secret_named_keys_are_redacted_at_any_depth() -> None:
    given = {
        "a": {"b": [{"Password": "p", "db_token": "t", "AWS_SECRET_ACCESS_KEY": "s", "region": "eu-west-1"}]}
    }
    assert scrub(given) == {
        "a": {
            "b": [
                {
                    "Password": REDACTED,
                    "db_token": REDACTED,
                    "AWS_SECRET_ACCESS_KEY": REDACTED,
                    "region": "eu-west-1",
                }
            ]
        }
    }


def test_access_key_ids_are_masked_in_free_text() -> None:
    assert scrub("using AKIAIOSFODNN7EXAMPLE now") == f"using {REDACTED} now"


def test_url_user_info_is_masked() -> None:
    assert scrub("https://me:pw@example.test/x") == f"https://{REDACTED}@example.test/x"


def test_ordinary_values_are_kept() -> None:
    given = {"shards": 3, "endpoint_url": "http://127.0.0.1:4566", "aws_profile": "staging"}
    assert scrub(given) == given
