/// The release this build is: what `--version` prints and every node reports in its hello.
public enum Release {
    public static let version = "0.1.0"
}
