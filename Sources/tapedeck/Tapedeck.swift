import TapedeckCLI

@main
enum Main {
    static func main() async {
        await TapedeckCommand.main()
    }
}
