import Hummingbird

/// Answers 405 with `Allow: GET` for another method on a path the API serves (the router alone would say 404):
/// every operation of the document is a GET.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    let paths: Set<String>

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method != .get && paths.contains(request.uri.path) {
            return Response(status: .methodNotAllowed, headers: [.allow: "GET"])
        }
        return try await next(request, context)
    }
}
