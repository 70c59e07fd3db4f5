"""dataPrepare's video lists: start frames are whole numbers or an error, quoted paths with '#'
are not comments, and what write_video_list writes reads back as it was."""
import pytest

from lib.errors import UserError
from lib.io.video_list import Video, read_video_list, write_video_list


@pytest.mark.parametrize("name, text, bad", [
    ("inf.json", '{"x.mp4": [0, 1e400]}', "inf"),          # was an OverflowError traceback
    ("frac.json", '{"x.mp4": [1.9]}', "1.9"),              # was silently 1
    ("bool.json", '{"x.mp4": [true]}', "True"),            # was silently 1
    ("nan.json", '{"x.mp4": [NaN]}', "nan"),
    ("nested.json", '{"x.mp4": [[1]]}', "[1]"),
    ("under.txt", "x.mp4 1_0\n", "'1_0'"),                 # int() takes '1_0' as 10
    ("arabic.txt", "x.mp4 \u0661\u0660\n", "'\u0661\u0660'"),   # and Arabic-Indic digits
    ("plus.txt", "x.mp4 +5\n", "'+5'"),
])
def test_start_frames_must_be_whole_numbers(tmp_path, name, text, bad):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError, match="start frames must be whole numbers") as err:
        read_video_list(str(path))
    assert f"got {bad} in" in str(err.value)


def test_whole_floats_and_digit_strings_are_start_frames(tmp_path):
    path = tmp_path / "ok.json"
    path.write_text('{"x.mp4": [2.0, "3", 10]}')
    assert read_video_list(str(path))[0].starts == (2, 3, 10)
    path = tmp_path / "neg.txt"
    path.write_text("x.mp4 -5\n")
    with pytest.raises(UserError, match="none negative"):
        read_video_list(str(path))


def test_quoted_path_with_hash_is_not_a_comment(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text('"/tmp/my #1/c.mp4" 0 5  # a comment\n'
                    "# a comment line\n"
                    "'/tmp/it is.mp4',7 #8 and a comment\n"
                    "a#b.mp4 3 # a '#' inside a field is no comment\n")
    vids = read_video_list(str(path))
    assert [(v.source, v.starts) for v in vids] == [
        ("/tmp/my #1/c.mp4", (0, 5)), ("/tmp/it is.mp4", (7,)), (str(tmp_path / "a#b.mp4"), (3,))]
    # a comment that opens a quote is still a comment
    path.write_text("x.mp4 1 # Bob's clip\n")
    assert read_video_list(str(path))[0].starts == (1,)


def test_written_lists_read_back_unchanged(tmp_path):
    videos = [Video("c", "/tmp/my #1/c.mp4", [0, 5]),
              Video("a_b_c", "/tmp/a b,c.mp4", [1, 2]),
              Video("it_s", "/tmp/it's.mp4", [3]),
              Video("say_hi", '/tmp/say "hi".mp4', [4]),
              Video("v", "https://h.example/v.mp4#t=1", [5]),
              Video("own", "/tmp/#x.mp4", [6]),
              Video("123456", "https://vimeo.com/123456", [7])]
    path = tmp_path / "list.txt"
    write_video_list(videos, str(path))
    back = read_video_list(str(path))
    assert [(v.name, v.source, v.starts) for v in back] == [
        (v.name, v.source, v.starts) for v in videos]
    # a source no line can hold is refused when writing, not written wrong
    with pytest.raises(UserError, match="both kinds of quotes"):
        write_video_list([Video("x", "/tmp/a'b\".mp4", [0])], str(tmp_path / "other.txt"))
    assert not (tmp_path / "other.txt").exists()


@pytest.mark.parametrize("name, text", [("ftp.txt", "ftp://host/clip.mp4 0\n"),
                                        ("rtsp.json", '{"rtsp://cam/live": [0]}')])
def test_addresses_that_are_not_fetched_are_refused_not_taken_for_files(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UserError, match="only http\\(s\\):// and file:// addresses are fetched"):
        read_video_list(str(path))


def test_file_urls_and_http_urls_are_read(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("file:///data/a%20b.mp4 0\nhttps://example.org/c.mp4 4\n")
    assert [v.source for v in read_video_list(str(path))] == ["/data/a b.mp4",
                                                              "https://example.org/c.mp4"]
