// Render the OpenAPI schema the server generates; every asset is served from static/docs/.
// No deep linking: it puts a link inside each operation's button (nested interactive controls).
(function () {
  var node = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: node.getAttribute("data-schema-url"),
    dom_id: "#swagger-ui",
    deepLinking: false,
    persistAuthorization: false,
    tryItOutEnabled: false,
  });
})();
