// A host and port to listen on or connect to. Its own module so that the client and the SMTP
// client code can name it without loading the server's configuration.
export interface ListenAddress {
  host: string;
  port: number;
}
