from impulse_stream.redact import mask_url


def test_mask_url_hides_the_password_of_every_url_in_a_text() -> None:
    text = "Redis at redis://app:s3cret@redis:6379/0 and kafka://u:p%40ss@k:9092 failed"
    masked = mask_url(text)
    assert "s3cret" not in masked and "p%40ss" not in masked
    assert masked == "Redis at redis://app:***@redis:6379/0 and kafka://u:***@k:9092 failed"


def test_mask_url_leaves_urls_without_a_password_unchanged() -> None:
    for url in ("redis://127.0.0.1:6379/0", "rediss://reader@redis:6380/1", "unix:///tmp/r.sock"):
        assert mask_url(url) == url


def test_mask_url_masks_a_password_without_a_user_name() -> None:
    assert mask_url("redis://:hunter2@h:1/0") == "redis://:***@h:1/0"
