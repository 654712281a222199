"""course_lib.versioning: content digests and a content-addressed version store."""

import pandas as pd
import pytest

from course_lib.versioning import DatasetStore, frame_digest


@pytest.fixture
def frame():
    return pd.DataFrame({"customer_id": ["A", "B", "C"], "x": [1.0, 2.0, None], "y": ["p", "q", "r"]})


def test_digest_is_about_content(frame):
    digest = frame_digest(frame)
    assert len(digest) == 64
    assert frame_digest(frame.sample(frac=1.0, random_state=1).set_axis([7, 8, 9])) == digest
    assert frame_digest(frame.assign(x=[1.0, 2.0, 3.0])) != digest
    assert frame_digest(frame.rename(columns={"y": "z"})) != digest
    assert frame_digest(pd.concat([frame, frame.iloc[[0]]])) != digest
    with pytest.raises(TypeError):
        frame_digest([1, 2])


def test_store_commits_each_content_once(tmp_path, frame):
    store = DatasetStore(tmp_path / "versions")
    assert store.log().empty
    first = store.commit(frame, "demo", "first")
    again = store.commit(frame.iloc[::-1], "demo", "same rows, reversed")
    other = store.commit(frame.head(2), "demo", "smaller")
    assert first.digest == again.digest != other.digest
    assert len(store.log()) == 2 and len(list((tmp_path / "versions" / "objects").iterdir())) == 2
    assert store.get(first.short).digest == first.digest
    pd.testing.assert_frame_equal(store.load(first.digest), frame)
    with pytest.raises(KeyError, match="No unique version"):
        store.get("ffffffffffff")
    with pytest.raises(KeyError):
        store.get("ab")
    with pytest.raises(ValueError, match="name"):
        store.commit(frame, " ")
